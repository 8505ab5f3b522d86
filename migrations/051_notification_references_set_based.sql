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

-- The integrity check gains the two invariants the dropped foreign keys kept
-- (notification_references_exist, notification_attempt_has_notification): in 060, which
-- restates the function.
