-- A neutralized copy of a database (odoo neutralize, a test copy of production) is a test
-- environment: production systems' keys are refused and nothing is delivered to them.
INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)
VALUES ('mfg_integration_base.environment', 'test', 1, now() at time zone 'UTC', 1, now() at time zone 'UTC')
    ON CONFLICT (key) DO UPDATE SET value = 'test';
