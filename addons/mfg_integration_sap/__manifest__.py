{
    "name": "Manufacturing Integration: SAP S/4HANA",
    "summary": "SAP S/4HANA over OData V2: production orders, materials and BoMs in; "
    "confirmations and goods movements out exactly once; stock and confirmation reconciliation",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "maintainers": ["mfg-integration"],
    "development_status": "Alpha",
    "images": ["static/description/icon.png"],
    "depends": ["mfg_integration_base", "mrp", "purchase"],
    "external_dependencies": {"python": ["requests", "lxml", "pyodata"]},
    "data": [
        "data/mfg_integration_contract_data.xml",
        "security/ir.model.access.csv",
        "views/mfg_integration_system_views.xml",
        "views/mrp_production_views.xml",
        "wizard/mfg_integration_sap_connection_test_views.xml",
    ],
    "demo": ["demo/mfg_integration_sap_demo.xml"],
}
