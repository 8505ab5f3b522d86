-- A per-merchant version of what the analytics portfolio is computed from (campaigns and the
-- daily rollup), bumped by every statement that changes either, in the writer's transaction,
-- whoever writes (API, ingestion's rollup trigger, rollup rebuilds, jobs, SQL by hand). A replica
-- may keep a portfolio it computed and answer with it only while the version it read before
-- computing is still the one in the database: every request reads the version (one indexed row),
-- so no reader is ever answered from data older than its own read of the version.
-- No row yet reads as version 0; the first write inserts 1. No foreign key: a merchant's deletion
-- cascades to its campaigns, whose trigger still runs (a leftover row is harmless).
CREATE TABLE merchant_read_versions (
  merchant_id uuid PRIMARY KEY,
  version bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION swipesavvy_bump_read_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE merchant_read_versions SET version = version + 1;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO merchant_read_versions AS v (merchant_id)
    SELECT DISTINCT merchant_id FROM new_rows ORDER BY 1
    ON CONFLICT (merchant_id) DO UPDATE SET version = v.version + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO merchant_read_versions AS v (merchant_id)
    SELECT DISTINCT merchant_id FROM old_rows ORDER BY 1
    ON CONFLICT (merchant_id) DO UPDATE SET version = v.version + 1;
  ELSE
    INSERT INTO merchant_read_versions AS v (merchant_id)
    SELECT merchant_id FROM new_rows UNION SELECT merchant_id FROM old_rows ORDER BY 1
    ON CONFLICT (merchant_id) DO UPDATE SET version = v.version + 1;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER campaigns_read_version_insert AFTER INSERT ON campaigns
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER campaigns_read_version_update AFTER UPDATE ON campaigns
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER campaigns_read_version_delete AFTER DELETE ON campaigns
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER campaigns_read_version_truncate AFTER TRUNCATE ON campaigns
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();

CREATE TRIGGER analytics_daily_read_version_insert AFTER INSERT ON analytics_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_daily_read_version_update AFTER UPDATE ON analytics_daily
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_daily_read_version_delete AFTER DELETE ON analytics_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_daily_read_version_truncate AFTER TRUNCATE ON analytics_daily
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
