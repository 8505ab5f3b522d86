-- Delivery throughput (issue 3): the row-level foreign keys of the pipeline's two hot tables
-- become set-based, as events' did in 040.
--
-- Every fanned-out notification ran four foreign-key checks (merchant, send, campaign, customer)
-- and every attempt one more (its notification): a lookup and a FOR KEY SHARE row lock each,
-- ~9 us apiece, 35 of the 75 ms a 1,000-row fan-out batch took and ~12 ms of its recording
-- (EXPLAIN ANALYZE: trigger time against the statement's own). The customer's check also wrote
-- a lock into every customer row a campaign reached.
--
-- What the keys guaranteed is kept:
-- * Existence on insert. A fan-out batch takes its merchant row FOR KEY SHARE and its send row
--   (the heartbeat update, and FOR KEY SHARE in the insert itself), and reads the send and the
--   customers in the statement that inserts; a test or system notification takes its merchant row
--   FOR KEY SHARE in its insert. An attempt is inserted only for the notification row the same
--   statement has just updated (and so holds).
-- * Deletes. Statement-level triggers do what the cascades did: a deleted merchant or send takes
--   its notifications with it, a deleted notification its attempts, and a deleted customer is set
--   to null in its notifications. The customer trigger first takes the merchant row FOR UPDATE,
--   so it waits for fan-out batches in flight (which hold it FOR KEY SHARE) and then sees their
--   rows; a batch that starts after it waits for it and no longer sees the customer. A send is
--   deleted only with its row lock, which a batch in flight holds (a campaign's or merchant's
--   delete reaches its sends through their own foreign keys).
-- * `db check` counts notifications whose merchant, send, campaign or customer is missing or
--   belongs to another merchant, and attempts whose notification is missing.

ALTER TABLE notifications DROP CONSTRAINT notifications_merchant_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_merchant_id_send_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_merchant_id_campaign_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_merchant_id_customer_id_fkey;
ALTER TABLE notification_attempts DROP CONSTRAINT notification_attempts_notification_id_fkey;

-- a merchant's test and system notifications (its campaign ones go with its sends), by merchant
CREATE FUNCTION notifications_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'merchants' THEN
    DELETE FROM notifications n USING old_rows o WHERE n.merchant_id = o.id;
  ELSIF TG_TABLE_NAME = 'notification_sends' THEN
    DELETE FROM notifications n USING old_rows o WHERE n.send_id = o.id AND n.merchant_id = o.merchant_id;
  ELSIF TG_TABLE_NAME = 'notifications' THEN
    DELETE FROM notification_attempts a USING old_rows o WHERE a.notification_id = o.id;
  ELSE -- customers
    -- waits for the fan-out batches in flight (they hold the merchant row FOR KEY SHARE); a merchant
    -- being deleted by this transaction is invisible here and needs no lock: its own delete holds one
    PERFORM 1 FROM merchants m WHERE m.id IN (SELECT merchant_id FROM old_rows) ORDER BY m.id FOR UPDATE;
    UPDATE notifications n SET customer_id = NULL
      FROM old_rows o WHERE n.merchant_id = o.merchant_id AND n.customer_id = o.id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER merchants_notifications_cascade AFTER DELETE ON merchants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_cascade();
CREATE TRIGGER notification_sends_notifications_cascade AFTER DELETE ON notification_sends
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_cascade();
CREATE TRIGGER notifications_attempts_cascade AFTER DELETE ON notifications
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_cascade();
CREATE TRIGGER customers_notifications_cascade AFTER DELETE ON customers
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_cascade();

-- the integrity check gains the invariants the dropped foreign keys kept (040's checks, and these two)
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
$$;
