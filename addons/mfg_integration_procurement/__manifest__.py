{
    "name": "Manufacturing Integration: Procurement",
    "summary": "Supplier confirmations, shipment notices, receipts, component shortages on "
    "manufacturing orders and a three-way match, from supplier portals and EDI partners",
    "version": "18.0.1.0.0",
    "category": "Manufacturing/Integration",
    "author": "Manufacturing Integration Team",
    "website": "https://github.com/mfg-integration/odoo-mfg-integration",
    "license": "LGPL-3",
    "maintainers": ["mfg-integration"],
    "development_status": "Alpha",
    "images": ["static/description/icon.png"],
    "depends": ["mfg_integration_base", "purchase_stock", "mrp"],
    "data": [
        "security/ir.model.access.csv",
        "data/mfg_integration_contract_data.xml",
        "data/mfg_procurement_data.xml",
        "views/mfg_procurement_shortage_views.xml",
        "views/mfg_procurement_match_views.xml",
        "views/purchase_order_views.xml",
        "views/stock_picking_views.xml",
        "views/mrp_production_views.xml",
        "views/mfg_procurement_menus.xml",
    ],
    "demo": [
        "demo/mfg_integration_procurement_demo.xml",
    ],
}
