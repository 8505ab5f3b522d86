-- TRUNCATE fires no row or statement trigger of 071/072 (they are INSERT/UPDATE/DELETE triggers),
-- so emptying a table a kept answer is computed from left every kept answer standing. A TRUNCATE
-- trigger bumps every merchant: it cannot know whose rows went (TRUNCATE … CASCADE of a table that
-- references these fires their own triggers). The version read also changes when
-- merchant_read_versions itself is truncated: it names the table's file (pg_relation_filenode),
-- which TRUNCATE, like the restore that creates the table again, replaces (see read-versions.ts).
CREATE FUNCTION swipesavvy_bump_all_read_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO merchant_read_versions AS v (merchant_id, stripe)
  SELECT id, pg_backend_pid() % 16 FROM merchants ORDER BY 1
  ON CONFLICT (merchant_id, stripe) DO UPDATE SET version = v.version + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER campaigns_read_version_truncate AFTER TRUNCATE ON campaigns
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_all_read_versions();
CREATE TRIGGER analytics_daily_read_version_truncate AFTER TRUNCATE ON analytics_daily
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_all_read_versions();
CREATE TRIGGER analytics_totals_read_version_truncate AFTER TRUNCATE ON analytics_totals
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_all_read_versions();
CREATE TRIGGER analytics_merchant_daily_read_version_truncate AFTER TRUNCATE ON analytics_merchant_daily
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_all_read_versions();
