{
    "name": "Manufacturing Integration: SAP S/4HANA",
    "summary": "Contracts for SAP S/4HANA production orders in, confirmations and goods "
    "movements out (OData V2)",
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
    "data": ["data/mfg_integration_contract_data.xml"],
}
