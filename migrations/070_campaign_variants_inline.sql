-- Every campaign read (GET /api/campaigns/{id}, the list, the analytics views) showed the variants
-- by a correlated subquery: a bitmap scan of campaign_variants, a sort by position and a json_agg
-- per campaign, about half of what PostgreSQL spent on a single-campaign read. campaigns.variants
-- now holds them as the API shows them ([{name, weight, content}] in position order), kept by
-- triggers on campaign_variants in the writer's own statement, whoever writes (the API, the
-- adaptive allocation job, the demo data), so a read sees exactly what campaign_variants holds.
-- campaign_variants stays the table of record (keys, checks, the joins of analytics and sends).
ALTER TABLE campaigns ADD COLUMN variants jsonb NOT NULL DEFAULT '[]';

CREATE FUNCTION swipesavvy_campaign_variants_json(campaign uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('name', v.name, 'weight', v.weight, 'content', v.content)
                            ORDER BY v.position), '[]')
    FROM campaign_variants v WHERE v.campaign_id = campaign
$$;

UPDATE campaigns SET variants = swipesavvy_campaign_variants_json(id);

-- once per statement, for the campaigns the statement touched (a PUT's DELETE and INSERT: two)
CREATE FUNCTION swipesavvy_campaign_variants_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE campaigns c SET variants = swipesavvy_campaign_variants_json(c.id)
     WHERE c.id IN (SELECT campaign_id FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE campaigns c SET variants = swipesavvy_campaign_variants_json(c.id)
     WHERE c.id IN (SELECT campaign_id FROM old_rows);
  ELSE
    UPDATE campaigns c SET variants = swipesavvy_campaign_variants_json(c.id)
     WHERE c.id IN (SELECT campaign_id FROM new_rows UNION SELECT campaign_id FROM old_rows);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER campaign_variants_json_insert AFTER INSERT ON campaign_variants
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_campaign_variants_sync();
CREATE TRIGGER campaign_variants_json_update AFTER UPDATE ON campaign_variants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_campaign_variants_sync();
CREATE TRIGGER campaign_variants_json_delete AFTER DELETE ON campaign_variants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION swipesavvy_campaign_variants_sync();
