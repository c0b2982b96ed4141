DROP TABLE webhooks.portal_sessions;
