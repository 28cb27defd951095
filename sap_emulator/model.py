"""The emulated services: entity types, keys, navigations and function imports, named as in
SAP's API Business Hub specifications; and their ``$metadata`` (EDMX) built from them."""

from dataclasses import dataclass, field
from functools import cached_property
from xml.sax.saxutils import quoteattr

SERVICE_ROOT = "/sap/opu/odata/sap/"


@dataclass(frozen=True)
class Prop:
    name: str
    edm: str = "Edm.String"
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Nav:
    """A navigation to ``target`` set; ``pairs``: (field of this entity, field of the target)."""

    name: str
    target: str
    pairs: tuple
    many: bool = True


@dataclass(frozen=True)
class EntitySet:
    name: str
    props: tuple
    keys: tuple
    navs: tuple = ()
    # the property the ETag is built from (with the row's version): SAP's concurrency token
    etag_prop: str | None = None
    creatable: bool = False
    updatable: tuple = ()

    @property
    def type_name(self):
        return f"{self.name}Type"

    def prop(self, name):
        return self.prop_map.get(name)

    @cached_property
    def prop_map(self):
        return {prop.name: prop for prop in self.props}

    def nav(self, name):
        return next((nav for nav in self.navs if nav.name == name), None)


@dataclass(frozen=True)
class Function:
    name: str
    http_method: str
    params: tuple  # Prop
    return_set: str | None = None
    needs_if_match: bool = False


@dataclass(frozen=True)
class Service:
    name: str  # as in the URL, e.g. API_BILL_OF_MATERIAL_SRV;v=0002
    sets: tuple
    functions: tuple = ()

    @property
    def namespace(self):
        return self.name.split(";", 1)[0]

    def entity_set(self, name):
        return next((item for item in self.sets if item.name == name), None)

    def function(self, name):
        return next((item for item in self.functions if item.name == name), None)


def qty(name, label=""):
    return Prop(name, "Edm.Decimal", precision=13, scale=3, label=label)


def text(name, length, label=""):
    return Prop(name, "Edm.String", max_length=length, label=label)


def date(name):
    return Prop(name, "Edm.DateTime", precision=0)


def stamp(name):
    return Prop(name, "Edm.DateTimeOffset", precision=7)


def flag(name):
    return Prop(name, "Edm.Boolean")


PRODUCTION_ORDER = Service(
    "API_PRODUCTION_ORDER_2_SRV",
    sets=(
        EntitySet(
            "A_ProductionOrder_2",
            props=(
                text("ManufacturingOrder", 12),
                text("ManufacturingOrderCategory", 2),
                text("ManufacturingOrderType", 4),
                text("ManufacturingOrderText", 40),
                text("Material", 40),
                text("ProductionPlant", 4),
                text("ProductionVersion", 4),
                text("ProductionSupervisor", 3),
                text("MRPController", 3),
                text("StorageLocation", 4),
                text("Batch", 10),
                qty("TotalQuantity"),
                qty("MfgOrderPlannedScrapQty"),
                qty("MfgOrderConfirmedYieldQty"),
                text("ProductionUnit", 3),
                date("MfgOrderPlannedStartDate"),
                Prop("MfgOrderPlannedStartTime", "Edm.Time", precision=0),
                date("MfgOrderPlannedEndDate"),
                Prop("MfgOrderPlannedEndTime", "Edm.Time", precision=0),
                date("MfgOrderCreationDate"),
                date("MfgOrderActualReleaseDate"),
                flag("OrderIsCreated"),
                flag("OrderIsReleased"),
                flag("OrderIsPartiallyConfirmed"),
                flag("OrderIsConfirmed"),
                flag("OrderIsTechnicallyCompleted"),
                flag("OrderIsLocked"),
                text("BillOfOperationsType", 1),
                text("BillOfOperationsGroup", 8),
                text("BillOfMaterial", 8),
                text("LastChangeDateTime", 14),
            ),
            keys=("ManufacturingOrder",),
            navs=(
                Nav(
                    "to_ProductionOrderOperation",
                    "A_ProductionOrderOperation_2",
                    (("ManufacturingOrder", "ManufacturingOrder"),),
                ),
                Nav(
                    "to_ProductionOrderComponent",
                    "A_ProductionOrderComponent_2",
                    (("ManufacturingOrder", "ManufacturingOrder"),),
                ),
            ),
            etag_prop="LastChangeDateTime",
            updatable=(
                "TotalQuantity",
                "MfgOrderPlannedStartDate",
                "MfgOrderPlannedEndDate",
                "ProductionSupervisor",
                "ManufacturingOrderText",
            ),
        ),
        EntitySet(
            "A_ProductionOrderOperation_2",
            props=(
                text("OrderInternalBillOfOperations", 10),
                text("OrderIntBillOfOperationsItem", 8),
                text("ManufacturingOrder", 12),
                text("ManufacturingOrderSequence", 6),
                text("ManufacturingOrderOperation", 4),
                text("MfgOrderOperationText", 40),
                text("OperationConfirmation", 10),
                text("WorkCenter", 8),
                text("ProductionPlant", 4),
                text("OperationControlProfile", 4),
                qty("OpPlannedTotalQuantity"),
                qty("OpTotalConfirmedYieldQty"),
                qty("OpTotalConfirmedScrapQty"),
                text("OperationUnit", 3),
                date("OpErlstSchedldExecStrtDte"),
                date("OpErlstSchedldExecEndDte"),
                flag("OperationIsConfirmed"),
                flag("OperationIsPartiallyConfirmed"),
                text("LastChangeDateTime", 14),
            ),
            keys=("OrderInternalBillOfOperations", "OrderIntBillOfOperationsItem"),
        ),
        EntitySet(
            "A_ProductionOrderComponent_2",
            props=(
                text("Reservation", 10),
                text("ReservationItem", 4),
                text("ReservationRecordType", 1),
                text("ManufacturingOrder", 12),
                text("ManufacturingOrderOperation", 4),
                text("Material", 40),
                text("Plant", 4),
                text("StorageLocation", 4),
                text("Batch", 10),
                text("BillOfMaterialItemNumber", 4),
                text("GoodsMovementType", 3),
                qty("RequiredQuantity"),
                qty("WithdrawnQuantity"),
                text("BaseUnit", 3),
                flag("MaterialComponentIsPhantomItem"),
            ),
            keys=("Reservation", "ReservationItem", "ReservationRecordType"),
        ),
    ),
    functions=(
        Function(
            "ReleaseOrder",
            "POST",
            (text("ManufacturingOrder", 12),),
            return_set="A_ProductionOrder_2",
            needs_if_match=True,
        ),
    ),
)

CONFIRMATION = Service(
    "API_PROD_ORDER_CONFIRMATION_2_SRV",
    sets=(
        EntitySet(
            "ProdnOrdConf2",
            props=(
                text("ConfirmationGroup", 10),
                text("ConfirmationCount", 8),
                text("OrderID", 12),
                text("OrderOperation", 4),
                text("Sequence", 6),
                text("OrderType", 4),
                text("Material", 40),
                text("Plant", 4),
                text("WorkCenter", 8),
                text("ConfirmationText", 40),
                text("ConfirmationUnit", 3),
                qty("ConfirmationYieldQuantity"),
                qty("ConfirmationScrapQuantity"),
                qty("ConfirmationReworkQuantity"),
                text("FinalConfirmationType", 1),
                flag("IsFinalConfirmation"),
                flag("OpenReservationsIsCleared"),
                date("PostingDate"),
                text("ExternalSystemConfirmation", 32),
                flag("IsReversed"),
                flag("IsReversal"),
                text("CancldProdnOrdConfCount", 8),
                stamp("EnteredByExternalUser"),
                date("ConfirmationEntryDate"),
            ),
            keys=("ConfirmationGroup", "ConfirmationCount"),
            creatable=True,
        ),
    ),
    functions=(
        Function(
            "CancelProdnOrdConf",
            "POST",
            (text("ConfirmationGroup", 10), text("ConfirmationCount", 8)),
            return_set="ProdnOrdConf2",
        ),
    ),
)

MATERIAL_DOCUMENT = Service(
    "API_MATERIAL_DOCUMENT_SRV",
    sets=(
        EntitySet(
            "A_MaterialDocumentHeader",
            props=(
                text("MaterialDocumentYear", 4),
                text("MaterialDocument", 10),
                text("InventoryTransactionType", 2),
                date("DocumentDate"),
                date("PostingDate"),
                date("CreationDate"),
                text("GoodsMovementCode", 2),
                text("ReferenceDocument", 16),
                text("MaterialDocumentHeaderText", 25),
                text("CreatedByUser", 12),
            ),
            keys=("MaterialDocumentYear", "MaterialDocument"),
            navs=(
                Nav(
                    "to_MaterialDocumentItem",
                    "A_MaterialDocumentItem",
                    (
                        ("MaterialDocumentYear", "MaterialDocumentYear"),
                        ("MaterialDocument", "MaterialDocument"),
                    ),
                ),
            ),
            creatable=True,
        ),
        EntitySet(
            "A_MaterialDocumentItem",
            props=(
                text("MaterialDocumentYear", 4),
                text("MaterialDocument", 10),
                text("MaterialDocumentItem", 4),
                text("Material", 40),
                text("Plant", 4),
                text("StorageLocation", 4),
                text("Batch", 10),
                text("GoodsMovementType", 3),
                text("InventoryStockType", 2),
                text("ManufacturingOrder", 12),
                text("ManufacturingOrderItem", 4),
                text("Reservation", 10),
                text("ReservationItem", 4),
                text("GoodsMovementRefDocType", 1),
                qty("QuantityInEntryUnit"),
                text("EntryUnit", 3),
                qty("QuantityInBaseUnit"),
                text("MaterialBaseUnit", 3),
                flag("IsCompletelyDelivered"),
                text("MaterialDocumentItemText", 50),
            ),
            keys=("MaterialDocumentYear", "MaterialDocument", "MaterialDocumentItem"),
        ),
    ),
)

PRODUCT = Service(
    "API_PRODUCT_SRV",
    sets=(
        EntitySet(
            "A_Product",
            props=(
                text("Product", 40),
                text("ProductType", 4),
                text("ProductGroup", 9),
                text("BaseUnit", 3),
                qty("GrossWeight"),
                text("WeightUnit", 3),
                flag("IsMarkedForDeletion"),
                text("CrossPlantStatus", 2),
                date("CreationDate"),
                stamp("LastChangeDateTime"),
            ),
            keys=("Product",),
            navs=(
                Nav("to_Description", "A_ProductDescription", (("Product", "Product"),)),
                Nav("to_Plant", "A_ProductPlant", (("Product", "Product"),)),
            ),
        ),
        EntitySet(
            "A_ProductDescription",
            props=(text("Product", 40), text("Language", 2), text("ProductDescription", 40)),
            keys=("Product", "Language"),
        ),
        EntitySet(
            "A_ProductPlant",
            props=(
                text("Product", 40),
                text("Plant", 4),
                text("MRPType", 2),
                text("MRPResponsible", 3),
                text("ProcurementType", 1),
                text("ProductionInvtryManagedLoc", 4),
                flag("IsBatchManagementRequired"),
                text("ProfitCenter", 10),
            ),
            keys=("Product", "Plant"),
        ),
    ),
)

BOM_KEYS = (
    "BillOfMaterial",
    "BillOfMaterialCategory",
    "BillOfMaterialVariant",
    "BillOfMaterialVersion",
    "EngineeringChangeDocument",
    "Material",
    "Plant",
)
BILL_OF_MATERIAL = Service(
    "API_BILL_OF_MATERIAL_SRV;v=0002",
    sets=(
        EntitySet(
            "MaterialBOM",
            props=(
                text("BillOfMaterial", 8),
                text("BillOfMaterialCategory", 1),
                text("BillOfMaterialVariant", 2),
                text("BillOfMaterialVersion", 4),
                text("EngineeringChangeDocument", 12),
                text("Material", 40),
                text("Plant", 4),
                text("BillOfMaterialVariantUsage", 1),
                text("BOMHeaderBaseUnit", 3),
                qty("BOMHeaderQuantityInBaseUnit"),
                text("BOMHeaderText", 40),
                date("ValidityStartDate"),
                date("ValidityEndDate"),
                stamp("LastChangeDateTime"),
            ),
            keys=BOM_KEYS,
            navs=(
                Nav(
                    "to_BillOfMaterialItem",
                    "MaterialBOMItem",
                    tuple((key, key) for key in BOM_KEYS),
                ),
            ),
        ),
        EntitySet(
            "MaterialBOMItem",
            props=(
                *(text(key, 40 if key == "Material" else 12) for key in BOM_KEYS),
                text("BillOfMaterialItemNodeNumber", 8),
                text("BillOfMaterialItemNumber", 4),
                text("BillOfMaterialItemCategory", 1),
                text("BillOfMaterialComponent", 40),
                qty("BillOfMaterialItemQuantity"),
                text("BillOfMaterialItemUnit", 3),
                qty("ComponentScrapInPercent"),
                text("ProdOrderIssueLocation", 4),
                text("BOMItemDescription", 40),
            ),
            keys=(*BOM_KEYS, "BillOfMaterialItemNodeNumber"),
        ),
    ),
)

MATERIAL_STOCK = Service(
    "API_MATERIAL_STOCK_SRV",
    sets=(
        EntitySet(
            "A_MaterialStock",
            props=(text("Material", 40), text("MaterialBaseUnit", 3)),
            keys=("Material",),
            navs=(Nav("to_MatlStkInAcctMod", "A_MatlStkInAcctMod", (("Material", "Material"),)),),
        ),
        EntitySet(
            "A_MatlStkInAcctMod",
            props=(
                text("Material", 40),
                text("Plant", 4),
                text("StorageLocation", 4),
                text("Batch", 10),
                text("Supplier", 10),
                text("Customer", 10),
                text("WBSElementInternalID", 24),
                text("SDDocument", 10),
                text("SDDocumentItem", 6),
                text("InventorySpecialStockType", 1),
                text("InventoryStockType", 2),
                text("MaterialBaseUnit", 3),
                qty("MatlWrhsStkQtyInMatlBaseUnit"),
            ),
            keys=(
                "Material",
                "Plant",
                "StorageLocation",
                "Batch",
                "Supplier",
                "Customer",
                "WBSElementInternalID",
                "SDDocument",
                "SDDocumentItem",
                "InventorySpecialStockType",
                "InventoryStockType",
            ),
        ),
    ),
)

SERVICES = {
    service.name: service
    for service in (
        PRODUCTION_ORDER,
        CONFIRMATION,
        MATERIAL_DOCUMENT,
        PRODUCT,
        BILL_OF_MATERIAL,
        MATERIAL_STOCK,
    )
}
ENTITY_SETS = {entity_set.name: entity_set for s in SERVICES.values() for entity_set in s.sets}
SERVICE_OF_SET = {entity_set.name: s for s in SERVICES.values() for entity_set in s.sets}


@dataclass
class _Edmx:
    lines: list = field(default_factory=list)

    def add(self, line):
        self.lines.append(line)


def _prop_xml(prop, key_names):
    attributes = {"Name": prop.name, "Type": prop.edm}
    attributes["Nullable"] = "false" if prop.name in key_names else "true"
    if prop.max_length:
        attributes["MaxLength"] = str(prop.max_length)
    if prop.precision is not None:
        attributes["Precision"] = str(prop.precision)
    if prop.scale is not None:
        attributes["Scale"] = str(prop.scale)
    text_attributes = " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items())
    label = f" sap:label={quoteattr(prop.label)}" if prop.label else ""
    return f'<Property {text_attributes}{label} sap:unicode="false"/>'


def metadata_xml(service):
    """The EDMX of ``service``: what SAP Gateway serves at ``$metadata`` (no annotations)."""
    namespace = service.namespace
    doc = _Edmx()
    doc.add('<?xml version="1.0" encoding="utf-8"?>')
    doc.add(
        '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"'
        ' xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"'
        ' xmlns:sap="http://www.sap.com/Protocols/SAPData">'
    )
    doc.add('<edmx:DataServices m:DataServiceVersion="2.0">')
    doc.add(
        f'<Schema Namespace="{namespace}" xml:lang="en" sap:schema-version="1"'
        ' xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
    )
    associations = []
    for entity_set in service.sets:
        doc.add(f'<EntityType Name="{entity_set.type_name}" sap:content-version="1">')
        doc.add("<Key>")
        for key in entity_set.keys:
            doc.add(f'<PropertyRef Name="{key}"/>')
        doc.add("</Key>")
        for prop in entity_set.props:
            doc.add(_prop_xml(prop, entity_set.keys))
        for nav in entity_set.navs:
            association = f"assoc_{entity_set.name}_{nav.name}"
            associations.append((association, entity_set, nav))
            doc.add(
                f'<NavigationProperty Name="{nav.name}" Relationship="{namespace}.{association}"'
                f' FromRole="FromRole_{association}" ToRole="ToRole_{association}"/>'
            )
        doc.add("</EntityType>")
    for association, entity_set, nav in associations:
        target = ENTITY_SETS[nav.target]
        doc.add(f'<Association Name="{association}" sap:content-version="1">')
        doc.add(
            f'<End Type="{namespace}.{entity_set.type_name}" Multiplicity="1"'
            f' Role="FromRole_{association}"/>'
        )
        doc.add(
            f'<End Type="{namespace}.{target.type_name}" Multiplicity="{"*" if nav.many else "1"}"'
            f' Role="ToRole_{association}"/>'
        )
        doc.add("</Association>")
    doc.add(
        f'<EntityContainer Name="{namespace}_Entities" m:IsDefaultEntityContainer="true"'
        ' sap:supported-formats="atom json xlsx">'
    )
    for entity_set in service.sets:
        creatable = "true" if entity_set.creatable else "false"
        updatable = "true" if entity_set.updatable else "false"
        doc.add(
            f'<EntitySet Name="{entity_set.name}" EntityType="{namespace}.{entity_set.type_name}"'
            f' sap:creatable="{creatable}" sap:updatable="{updatable}" sap:deletable="false"'
            ' sap:content-version="1"/>'
        )
    for association, entity_set, nav in associations:
        doc.add(
            f'<AssociationSet Name="{association}_set" Association="{namespace}.{association}"'
            ' sap:creatable="false" sap:updatable="false" sap:deletable="false"'
            ' sap:content-version="1">'
        )
        doc.add(f'<End EntitySet="{entity_set.name}" Role="FromRole_{association}"/>')
        doc.add(f'<End EntitySet="{nav.target}" Role="ToRole_{association}"/>')
        doc.add("</AssociationSet>")
    for function in service.functions:
        returns = ""
        if function.return_set:
            returns = (
                f' ReturnType="{namespace}.{ENTITY_SETS[function.return_set].type_name}"'
                f' EntitySet="{function.return_set}"'
            )
        method = function.http_method
        doc.add(f'<FunctionImport Name="{function.name}"{returns} m:HttpMethod="{method}">')
        for param in function.params:
            doc.add(
                f'<Parameter Name="{param.name}" Type="{param.edm}" Mode="In"'
                f' MaxLength="{param.max_length or 40}"/>'
            )
        doc.add("</FunctionImport>")
    doc.add("</EntityContainer>")
    doc.add("</Schema>")
    doc.add("</edmx:DataServices>")
    doc.add("</edmx:Edmx>")
    return "\n".join(doc.lines)
