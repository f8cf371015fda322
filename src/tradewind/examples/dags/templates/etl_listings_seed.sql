-- example_etl_listings, task seed_listings: the tables, and this interval's listing updates.
-- The source data is generated, but deterministically: listing n is updated at n * 20 minutes
-- after the Unix epoch, so every interval always holds the same rows and re-seeding changes nothing.
CREATE TABLE IF NOT EXISTS listings (
    listing_id     BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,
    neighbourhood  TEXT NOT NULL,
    room_type      TEXT NOT NULL,
    price          NUMERIC(8, 2) NOT NULL,
    minimum_nights INTEGER NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_updated_at ON listings (updated_at);

CREATE TABLE IF NOT EXISTS listings_report (
    interval_start TIMESTAMPTZ NOT NULL,
    interval_end   TIMESTAMPTZ NOT NULL,
    neighbourhood  TEXT NOT NULL,
    room_type      TEXT NOT NULL,
    listings       INTEGER NOT NULL,
    avg_price      NUMERIC(8, 2) NOT NULL,
    min_price      NUMERIC(8, 2) NOT NULL,
    max_price      NUMERIC(8, 2) NOT NULL,
    PRIMARY KEY (interval_start, neighbourhood, room_type)
);

INSERT INTO listings (listing_id, name, neighbourhood, room_type, price, minimum_nights, updated_at)
SELECT n,
       'Listing #' || n,
       (ARRAY['Centrum-West', 'De Pijp', 'Jordaan', 'Oost', 'Noord'])[1 + n % 5],
       (ARRAY['Entire home/apt', 'Private room', 'Shared room'])[1 + (n / 5) % 3],
       35 + (n * 37) % 265,
       1 + n % 7,
       to_timestamp(n * 1200)
FROM generate_series(
         ceil(extract(epoch FROM TIMESTAMPTZ '{{ data_interval_start }}') / 1200)::bigint,
         ceil(extract(epoch FROM TIMESTAMPTZ '{{ data_interval_end }}') / 1200)::bigint - 1
     ) AS n
WHERE n % 11 <> 0  -- not every slot has an update
ON CONFLICT (listing_id) DO NOTHING;
