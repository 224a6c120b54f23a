"""Door access: doors, the access rule, unlock over MQTT, audit log, alerts."""
