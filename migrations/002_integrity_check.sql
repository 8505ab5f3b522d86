-- The integrity check behind `swipesavvy db check` and smoke test 6.2: one row per invariant,
-- with the number of rows that break it. Constraints the schema enforces are checked for being
-- validated; the invariants a constraint cannot express are counted here.
CREATE FUNCTION swipesavvy_integrity_check()
RETURNS TABLE (check_name text, violations bigint, description text)
LANGUAGE sql STABLE AS $$
  SELECT 'constraints_validated',
         (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
           WHERE n.nspname = current_schema() AND NOT c.convalidated),
         'every constraint of the schema is validated'
  UNION ALL
  SELECT 'merchant_has_owner',
         (SELECT count(*) FROM merchants m
           WHERE EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id)
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id AND u.role = 'owner')),
         'every merchant with staff has an owner'
  UNION ALL
  SELECT 'campaign_has_variant',
         (SELECT count(*) FROM campaigns c
           WHERE NOT EXISTS (SELECT 1 FROM campaign_variants v WHERE v.campaign_id = c.id)),
         'every campaign has at least one variant'
  UNION ALL
  SELECT 'notification_attempts_recorded',
         (SELECT count(*) FROM notifications n
           WHERE n.attempts <> (SELECT count(*) FROM notification_attempts a WHERE a.notification_id = n.id)),
         'a notification''s attempt count equals its recorded attempts'
  UNION ALL
  SELECT 'notification_final_was_attempted',
         (SELECT count(*) FROM notifications
           WHERE status IN ('sent', 'delivered', 'bounced') AND attempts = 0),
         'a sent, delivered or bounced notification has at least one attempt'
  UNION ALL
  SELECT 'send_counts_add_up',
         (SELECT count(*) FROM notification_sends s
           WHERE s.status = 'completed'
             AND s.recipients <> (SELECT count(*) FROM notifications n WHERE n.send_id = s.id)),
         'a completed notification campaign has exactly one notification per counted recipient'
  UNION ALL
  SELECT 'completed_send_has_no_open_notifications',
         (SELECT count(*) FROM notification_sends s
           WHERE s.status = 'completed'
             AND EXISTS (SELECT 1 FROM notifications n WHERE n.send_id = s.id AND n.status IN ('queued', 'sending'))),
         'a completed notification campaign has no notification still queued or sending'
  UNION ALL
  SELECT 'event_variant_exists',
         (SELECT count(*) FROM events e
           WHERE e.variant IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM campaign_variants v WHERE v.campaign_id = e.campaign_id AND v.name = e.variant)),
         'every event names a variant of its campaign'
  UNION ALL
  SELECT 'transaction_attribution_in_window',
         (SELECT count(*) FROM transactions t JOIN campaigns c ON c.id = t.campaign_id
           WHERE NOT EXISTS (
             SELECT 1 FROM events e
              WHERE e.merchant_id = t.merchant_id AND e.customer_id = t.customer_id AND e.campaign_id = t.campaign_id
                AND e.occurred_at <= t.occurred_at
                AND e.occurred_at > t.occurred_at - make_interval(days => c.attribution_window_days))),
         'an attributed transaction follows a touch of its campaign within the attribution window'
$$;
