-- Analytics at 10 million events (issue 4's figures).
--
-- 1. analytics_exposures loses its row-level foreign key to campaigns. Ingestion adds an
--    experiment unit for nearly every new (campaign, customer, variant), and each one ran a lookup
--    and took a FOR KEY SHARE lock on the campaign row; two batches in flight lock the same
--    campaign rows, so the locks became MultiXacts. The campaign reference is already checked per
--    batch (under the merchant lock) before the events are stored, and the delete it cascaded is
--    done by the campaigns' statement-level delete trigger of migration 040, which waits for the
--    batches in flight first. `db check` counts units whose campaign is missing.
-- 2. analytics_rebuild aggregates the raw rows directly instead of running them through the
--    delta statement the triggers use: that statement materialises its input (all of a merchant's
--    events, to disk), looks customers up through an array of every id and sorts the lot for its
--    grouping sets; at 1.6 million events the rebuild took 57 s, 30 of them inserting units in hash
--    order with a foreign-key check each. Now: units inserted in key order; hours from one hashed
--    scan of the raw rows; days from the hours; segments from one scan joined to customers by hash,
--    grouped by hash on the customers' attributes, then per dimension (the grouping sets sorted the
--    whole input to disk). UTC hours and
--    days are cut with date_bin from the epoch (integer arithmetic; date_trunc(…, 'UTC') converts
--    time zones per row, which cost as much as the scan).
--    The results are the same rows the triggers keep (the rollup property test compares them).
--    The function is defined in 061, where it also rebuilds the campaign totals and the
--    merchant's days.

ALTER TABLE analytics_exposures DROP CONSTRAINT analytics_exposures_campaign_id_fkey;

CREATE OR REPLACE FUNCTION analytics_events_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'merchants' THEN
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.id;
    DELETE FROM event_ids e USING old_rows o WHERE e.merchant_id = o.id;
    RETURN NULL;
  END IF;
  -- waits for the batches in flight (they hold the merchant row FOR KEY SHARE); a merchant being
  -- deleted by this transaction is invisible here and needs no lock: its own delete holds one
  PERFORM 1 FROM merchants m WHERE m.id IN (SELECT merchant_id FROM old_rows) ORDER BY m.id FOR UPDATE;
  IF TG_TABLE_NAME = 'customers' THEN
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.merchant_id AND e.customer_id = o.id;
  ELSE
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.merchant_id AND e.campaign_id = o.id;
    -- the experiment units the foreign key used to cascade (a merchant's deletion reaches here
    -- through its campaigns)
    DELETE FROM analytics_exposures x USING old_rows o WHERE x.campaign_id = o.id;
  END IF;
  RETURN NULL;
END $$;

-- the integrity check gains the invariants the dropped foreign keys of 051 and of this migration kept
CREATE OR REPLACE FUNCTION swipesavvy_integrity_check()
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
  SELECT 'event_references_exist',
         (SELECT count(*) FROM events e
            LEFT JOIN campaigns c ON c.merchant_id = e.merchant_id AND c.id = e.campaign_id
            LEFT JOIN customers u ON u.merchant_id = e.merchant_id AND u.id = e.customer_id
           WHERE c.id IS NULL OR u.id IS NULL),
         'every event''s campaign and customer exist and belong to its merchant'
  UNION ALL
  SELECT 'transaction_attribution_in_window',
         (SELECT count(*) FROM transactions t JOIN campaigns c ON c.id = t.campaign_id
           WHERE NOT EXISTS (
             SELECT 1 FROM events e
              WHERE e.merchant_id = t.merchant_id AND e.customer_id = t.customer_id AND e.campaign_id = t.campaign_id
                AND e.occurred_at <= t.occurred_at
                AND e.occurred_at > t.occurred_at - make_interval(days => c.attribution_window_days))),
         'an attributed transaction follows a touch of its campaign within the attribution window'
  UNION ALL
  -- the two invariants of migration 051's set-based notification references
  SELECT 'notification_references_exist',
         (SELECT count(*) FROM notifications n
           WHERE NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = n.merchant_id)
              OR (n.send_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM notification_sends s WHERE s.merchant_id = n.merchant_id AND s.id = n.send_id))
              OR (n.campaign_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.merchant_id = n.merchant_id AND c.id = n.campaign_id))
              OR (n.customer_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM customers u WHERE u.merchant_id = n.merchant_id AND u.id = n.customer_id))),
         'every notification''s merchant, campaign send, campaign and customer exist and belong to its merchant'
  UNION ALL
  SELECT 'notification_attempt_has_notification',
         (SELECT count(*) FROM notification_attempts a
           WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = a.notification_id)),
         'every delivery attempt belongs to an existing notification'
  UNION ALL
  SELECT 'exposure_campaign_exists',
         (SELECT count(*) FROM analytics_exposures x
           WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = x.campaign_id)),
         'every experiment unit belongs to an existing campaign'
$$;
