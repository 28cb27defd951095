{
    "name": "Manufacturing Integration: Quality",
    "summary": "Contracts for inspections and lot holds and releases from a quality system",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "maintainers": ["mfg-integration"],
    "development_status": "Alpha",
    "images": ["static/description/icon.png"],
    "depends": ["mfg_integration_base", "mrp", "stock"],
    "data": ["data/mfg_integration_contract_data.xml"],
}
