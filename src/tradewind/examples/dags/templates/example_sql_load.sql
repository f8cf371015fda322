-- One day of orders for the run's logical date ({{ ds }}); the unit price is a query parameter.
DELETE FROM orders WHERE day = '{{ ds }}';
INSERT INTO orders (day, region, quantity, amount) VALUES ('{{ ds }}', 'eu', 3, 3 * :unit_price);
INSERT INTO orders (day, region, quantity, amount) VALUES ('{{ ds }}', 'us', 5, 5 * :unit_price);
INSERT INTO orders (day, region, quantity, amount) VALUES ('{{ ds }}', 'us', 1, 1 * :unit_price);
