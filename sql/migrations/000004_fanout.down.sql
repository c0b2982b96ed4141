DROP TABLE webhooks.messages;
DROP FUNCTION webhooks.can_read(text, text, text, text, text);
