-- example_etl_listings, task extract_listings: the listings updated in this run's data interval.
SELECT listing_id, name, neighbourhood, room_type, price, minimum_nights, updated_at
FROM listings
WHERE updated_at >= TIMESTAMPTZ '{{ data_interval_start }}'
  AND updated_at <  TIMESTAMPTZ '{{ data_interval_end }}'
ORDER BY listing_id
