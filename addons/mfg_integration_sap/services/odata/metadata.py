"""``$metadata`` read with pyodata's model: entity sets, keys, property types, function imports."""

from pyodata.v2.model import Config, MetadataBuilder, PolicyIgnore


def parse_metadata(xml):
    """pyodata's Schema of an EDMX document. Annotations pyodata does not know (SAP's own
    vocabularies) are ignored instead of failing the whole document."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    config = Config(default_error_policy=PolicyIgnore())
    return MetadataBuilder(xml, config=config).build()


def decimal_properties(schema, entity_set_name):
    """Names of the Edm.Decimal properties (quantities) of an entity set's type."""
    entity_type = schema.entity_set(entity_set_name).entity_type
    return frozenset(
        prop.name for prop in entity_type.proprties() if prop.typ.name == "Edm.Decimal"
    )


def key_properties(schema, entity_set_name):
    """Names of the key properties of an entity set's type, in key order."""
    return tuple(prop.name for prop in schema.entity_set(entity_set_name).entity_type.key_proprties)
