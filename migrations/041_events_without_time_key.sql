-- events' primary key (merchant_id, occurred_at, id) repeated, with the time added, the uniqueness
-- event_ids already guarantees per merchant and id (a partitioned table's key must contain the
-- partition key, which is why event_ids exists), and no read uses it: reads go to the rollups,
-- attribution and a merchant's rows to events_customer (merchant_id, customer_id, occurred_at).
-- It cost a third index entry per stored event, about a third of storing one. Every event is
-- still stored once: ingestion adds an id to event_ids and the event in one statement.
ALTER TABLE events DROP CONSTRAINT events_partitioned_pkey;
