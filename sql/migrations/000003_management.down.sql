DROP TABLE webhooks.api_keys;
DROP TABLE webhooks.signing_secrets;
DROP TABLE webhooks.webhooks;
