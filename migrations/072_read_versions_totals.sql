-- The validated reads (migration 071) are computed from campaigns and, since 061, from
-- the campaign totals and the merchant's days as well. The rollup statements that write those
-- also write analytics_daily, whose triggers bump the version, but the version must not depend on
-- that: every table a kept answer is computed from bumps it itself, whoever writes it.
CREATE TRIGGER analytics_totals_read_version_insert AFTER INSERT ON analytics_totals
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_totals_read_version_update AFTER UPDATE ON analytics_totals
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_totals_read_version_delete AFTER DELETE ON analytics_totals
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();

CREATE TRIGGER analytics_merchant_daily_read_version_insert AFTER INSERT ON analytics_merchant_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_merchant_daily_read_version_update AFTER UPDATE ON analytics_merchant_daily
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
CREATE TRIGGER analytics_merchant_daily_read_version_delete AFTER DELETE ON analytics_merchant_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_bump_read_versions();
