-- The event key (migration 074) becomes the first 16 bytes of a SHA-256 instead of an MD5.
--
-- PostgreSQL computes md5() through OpenSSL, and an OpenSSL in FIPS mode refuses MD5 ("could not
-- compute MD5 hash"): on such a server every insert into event_ids, so every event ingested,
-- would fail. SHA-256 is a FIPS-approved hash. 074 chose MD5 because sha256() takes bytea and
-- the exact conversion of text to bytea, convert_to(), is only stable, while a text::bytea cast
-- reads backslashes in the id as escapes. decode(…, 'escape') is immutable and reads a doubled
-- backslash as one, so with every backslash doubled first it gives the text's own bytes (in the
-- database's encoding; a test compares the key with Node's SHA-256 of the UTF-8 text, backslashes
-- and non-ASCII ids included). Still 128 bits of a cryptographic hash per key.
--
-- Every stored key is recomputed: the generated column is dropped and added again in one
-- statement, which rewrites event_ids and rebuilds its key under an exclusive lock: ingestion
-- waits for it (36 s on a copy with 11.0 million ids, 1.5 GB; the key's index came out at 332 MB,
-- freshly packed). Computing the key costs about 1.0 µs a row instead of MD5's 0.75. The key
-- keeps its name, type and values' meaning, and a generated column is never written by a
-- release, so the previous one runs unchanged against it: its insert of (merchant_id, id) is
-- still refused a known id (23505), and its lookup computes the key with this same function.
LOCK TABLE event_ids IN ACCESS EXCLUSIVE MODE;

CREATE OR REPLACE FUNCTION swipesavvy_event_key(merchant_id uuid, id text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT encode(substring(sha256(decode(replace(merchant_id::text || ':' || id, '\', '\\'), 'escape')) FROM 1 FOR 16), 'hex')::uuid
$$;

ALTER TABLE event_ids
  DROP CONSTRAINT event_ids_pkey,
  DROP COLUMN key,
  ADD COLUMN key uuid NOT NULL GENERATED ALWAYS AS (swipesavvy_event_key(merchant_id, id)) STORED,
  ADD CONSTRAINT event_ids_pkey PRIMARY KEY (key);
