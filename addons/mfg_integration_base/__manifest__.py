{
    "name": "Manufacturing Integration Base",
    "summary": "Versioned integration contracts, idempotent event inbox/outbox, "
    "exception queue and REST API for MES, ERP, quality and machine integration",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "depends": ["mail", "queue_job"],
    "external_dependencies": {
        "python": ["jsonschema", "referencing", "fastjsonschema", "requests"]
    },
    "data": [
        "security/mfg_integration_security.xml",
        "security/ir.model.access.csv",
        "security/mfg_integration_rules.xml",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/mfg_integration_contract_data.xml",
        "data/mail_activity_type_data.xml",
        "data/mfg_integration_traffic_cron.xml",
        "data/mfg_integration_reconciliation_data.xml",
        "wizard/mfg_integration_api_key_wizard_views.xml",
        "wizard/mfg_integration_assign_wizard_views.xml",
        "wizard/mfg_integration_deprecate_wizard_views.xml",
        "wizard/mfg_integration_discard_wizard_views.xml",
        "wizard/mfg_integration_metrics_token_wizard_views.xml",
        "wizard/mfg_integration_payload_wizard_views.xml",
        "wizard/mfg_integration_replay_wizard_views.xml",
        "views/mfg_integration_system_views.xml",
        "views/mfg_integration_contract_views.xml",
        "views/mfg_integration_mapping_views.xml",
        "views/mfg_integration_event_views.xml",
        "views/mfg_integration_exception_views.xml",
        "views/res_config_settings_views.xml",
        "views/mfg_integration_reconciliation_views.xml",
        "views/mfg_integration_menus.xml",
    ],
    "demo": [
        "demo/mfg_integration_demo.xml",
        "demo/mfg_integration_reconciliation_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "mfg_integration_base/static/src/**/*",
        ],
        "web.assets_tests": [
            "mfg_integration_base/static/tests/tours/**/*",
        ],
    },
    "installable": True,
    "application": True,
}
