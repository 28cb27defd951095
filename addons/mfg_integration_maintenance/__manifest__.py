{
    "name": "Manufacturing Integration: Maintenance and CMMS",
    "summary": "Contracts for an external CMMS: work orders kept in step with maintenance "
    "requests, spare-part reservation and consumption at cost, technicians, downtime, "
    "labour and parts cost roll-up, spare-part replenishment",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "maintainers": ["mfg-integration"],
    "development_status": "Alpha",
    "images": ["static/description/icon.png"],
    # mfg_integration_mes: the work-center <-> equipment link, the stops it records on work
    # centers and the breakdown requests it opens (see readme/DESCRIPTION.md)
    "depends": ["mfg_integration_base", "mfg_integration_mes", "maintenance", "purchase_stock"],
    "data": [
        "data/mfg_integration_contract_data.xml",
        "data/mfg_integration_record_kind_data.xml",
        "data/stock_location_data.xml",
        "views/maintenance_request_views.xml",
        "views/maintenance_equipment_views.xml",
        "views/product_product_views.xml",
        "views/res_company_views.xml",
    ],
    "demo": ["demo/mfg_integration_maintenance_demo.xml"],
}
