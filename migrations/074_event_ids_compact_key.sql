-- event_ids refuses a resent event id with a 16-byte key instead of its (merchant_id, id) key.
--
-- Event ids are what clients send (v4 UUIDs as text, up to 100 characters), so every new id lands
-- at a random place of the key's index, and at 10 million ids that index (1 GB: a 16-byte merchant
-- and a 37-byte text per entry) outgrows the shared buffers: each batch of 10,000 read about 2,000
-- of its pages from outside them, and after a checkpoint wrote a full image of nearly every page it
-- touched to the WAL (the id inserts of one batch took 0.4–2 s). The key is now the MD5 of merchant
-- and id as a uuid (16 bytes, fixed width): 403 MB at 10 million ids, 51,000 pages instead of
-- about 128,000, so a checkpoint cycle has fewer of its pages to log whole (right after one, a
-- batch still logs about 9,200 of them, 52 MB, and its id inserts take 0.2–0.36 s). Two ids of a
-- merchant would have to share 128 bits of MD5 to be taken for one another: among 10 million ids
-- the chance that any two do is below 1 in 10^24. MD5 rather than SHA-256 because it is immutable
-- SQL on every supported PostgreSQL (sha256 takes bytea, and convert_to, the exact conversion of
-- text to bytea, is only stable; a cast would read backslashes in the id as escapes),
-- and a key of the ids a merchant sends itself needs no resistance to an adversary.
--
-- Expand, not contract: the key is a column generated from the two columns, so the previous
-- version, which inserts (merchant_id, id) and is refused a known id by a unique violation (23505),
-- runs unchanged against it; only its lookup of known ids when it retries a batch with a resend
-- (merchant_id, id) loses its index. Deleting a merchant scans the table for its ids.
--
-- Adding a stored column rewrites the table under an exclusive lock: event ingestion waits for it
-- (the whole table and its new index; not timed at size).
CREATE FUNCTION swipesavvy_event_key(merchant_id uuid, id text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT md5(merchant_id::text || ':' || id)::uuid
$$;

ALTER TABLE event_ids ADD COLUMN key uuid NOT NULL GENERATED ALWAYS AS (swipesavvy_event_key(merchant_id, id)) STORED;
ALTER TABLE event_ids DROP CONSTRAINT event_ids_pkey, ADD CONSTRAINT event_ids_pkey PRIMARY KEY (key);
