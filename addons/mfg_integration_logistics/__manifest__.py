{
    "name": "Manufacturing Integration: Warehouse and Sales",
    "summary": "Contracts for a third-party WMS (stock movements, counts, shipments, inventory "
    "snapshots) and a CRM (customer orders in; acknowledgments and delivery status out)",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "maintainers": ["mfg-integration"],
    "development_status": "Alpha",
    "images": ["static/description/icon.png"],
    "depends": ["mfg_integration_base", "sale_stock", "mrp", "purchase_stock"],
    "data": [
        "data/mfg_integration_contract_data.xml",
        "data/mfg_integration_record_kind_data.xml",
        "security/ir.model.access.csv",
        "views/sale_order_views.xml",
        "views/stock_picking_views.xml",
        "views/mfg_wms_count_views.xml",
    ],
    "demo": [
        "demo/mfg_integration_logistics_demo.xml",
    ],
}
