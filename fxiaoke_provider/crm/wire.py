"""Every CRM wire name in one place: paths, body and answer fields, operators, limits.

Spelled exactly as the OpenAPI reference spells them, including its mix of snake_case
(``find_explicit_total_num``, ``field_name``) and camelCase (``fieldProjection``, ``isAsc``) in the
same body. Other CRM modules import these names instead of repeating literals, so a change in the
gateway's CRM contract is a change in this file only. Facts the reference leaves open are noted
where they are decided.
"""

from __future__ import annotations

from typing import Final, Literal

# --- objects ------------------------------------------------------------------------------------
#: Custom objects' API names end in this; they live under the custom-object paths.
CUSTOM_OBJECT_SUFFIX: Final = "__c"

# --- paths --------------------------------------------------------------------------------------
PRESET_DATA_PREFIX: Final = "/cgi/crm/v2/data/"
CUSTOM_DATA_PREFIX: Final = "/cgi/crm/custom/v2/data/"

DataAction = Literal["query", "get", "create", "update", "invalid", "delete"]
QUERY_ACTION: Final = "query"
#: One record by id. The reference knows the path from client code only and not its body, so
#: reading one record goes through a documented query (``_id EQ <id>``) instead; kept for the record.
GET_ACTION: Final = "get"
CREATE_ACTION: Final = "create"
UPDATE_ACTION: Final = "update"
INVALID_ACTION: Final = "invalid"
#: Deleting takes ``idList`` and only works after invalidation; this package does not delete.
DELETE_ACTION: Final = "delete"

#: Describe and list have one path for preset and custom objects alike.
DESCRIBE_PATH: Final = "/cgi/crm/v2/object/describe"
LIST_OBJECTS_PATH: Final = "/cgi/crm/v2/object/list"


def is_custom_object(object_api_name: str) -> bool:
    """Custom objects (``..__c``) must use the custom-object paths ("only for custom objects")."""
    return object_api_name.endswith(CUSTOM_OBJECT_SUFFIX)


def data_path(object_api_name: str, action: DataAction) -> str:
    """The data endpoint of ``action`` for this object: custom paths for ``..__c``, preset otherwise."""
    prefix = CUSTOM_DATA_PREFIX if is_custom_object(object_api_name) else PRESET_DATA_PREFIX
    return prefix + action


# --- auth in the body (legacy style) -------------------------------------------------------------
#: Legacy style: the acting user's open id, top level of every CRM body; refused when missing.
CURRENT_OPEN_USER_ID_FIELD: Final = "currentOpenUserId"

# --- query body ---------------------------------------------------------------------------------
DATA_FIELD: Final = "data"
OBJECT_API_NAME_FIELD: Final = "dataObjectApiName"
FIND_TOTAL_FIELD: Final = "find_explicit_total_num"
SEARCH_QUERY_INFO_FIELD: Final = "search_query_info"
LIMIT_FIELD: Final = "limit"
OFFSET_FIELD: Final = "offset"
FILTERS_FIELD: Final = "filters"
FILTER_FIELD_NAME: Final = "field_name"
FILTER_OPERATOR: Final = "operator"
FILTER_VALUES: Final = "field_values"
#: The keys of one filter in the manual's form, in the order the manual shows them.
FILTER_KEYS: Final[tuple[str, ...]] = (FILTER_FIELD_NAME, FILTER_OPERATOR, FILTER_VALUES)
ORDERS_FIELD: Final = "orders"
ORDER_FIELD_NAME: Final = "fieldName"
ORDER_ASCENDING: Final = "isAsc"
FIELD_PROJECTION_FIELD: Final = "fieldProjection"

# --- answers ------------------------------------------------------------------------------------
#: The gateway's request id, in every answer (support asks for it).
TRACE_ID_FIELD: Final = "traceId"
DATA_LIST_FIELD: Final = "dataList"
TOTAL_FIELD: Final = "total"

# --- records ------------------------------------------------------------------------------------
ID_FIELD: Final = "_id"
NAME_FIELD: Final = "name"
OWNER_FIELD: Final = "owner"
CREATE_TIME_FIELD: Final = "create_time"
#: Epoch milliseconds; the field incremental reads window on.
LAST_MODIFIED_TIME_FIELD: Final = "last_modified_time"
LIFE_STATUS_FIELD: Final = "life_status"

# --- writing ------------------------------------------------------------------------------------
OBJECT_DATA_FIELD: Final = "object_data"
DETAILS_FIELD: Final = "details"
#: A create's answer carries the new record's id here, at the top level.
DATA_ID_FIELD: Final = "dataId"
#: Invalidation names its record by this key (not ``_id``).
OBJECT_DATA_ID_FIELD: Final = "object_data_id"
ID_LIST_FIELD: Final = "idList"

# --- describe -----------------------------------------------------------------------------------
DESCRIBE_API_NAME_FIELD: Final = "apiName"
DESCRIBE_INCLUDE_DETAIL_FIELD: Final = "includeDetail"
#: The answer's field map lives at ``data.describe.fields``.
DESCRIBE_FIELD: Final = "describe"
DESCRIBE_FIELDS_FIELD: Final = "fields"

# --- operators ----------------------------------------------------------------------------------
#: Every operator the manual lists, in its order. ``N`` is "not equal".
OPERATORS: Final[tuple[str, ...]] = (
    "EQ",
    "N",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "LIKE",
    "NLIKE",
    "IS",
    "ISN",
    "IN",
    "NIN",
    "BETWEEN",
    "NBETWEEN",
    "STARTWITH",
    "ENDWITH",
    "HASANYOF",
    "NHASANYOF",
)
#: Operators that compare with exactly one value. The manual does not say how many values they
#: take; one is the only reading that has a meaning, so more (or none) is refused.
SINGLE_VALUE_OPERATORS: Final = frozenset(
    {"EQ", "N", "GT", "GTE", "LT", "LTE", "LIKE", "NLIKE", "STARTWITH", "ENDWITH"}
)
#: Operators over a set: one value or more; an empty set is refused (it matches nothing or
#: everything, depending on the gateway, which the manual does not say).
MANY_VALUE_OPERATORS: Final = frozenset({"IN", "NIN", "HASANYOF", "NHASANYOF"})
#: Two values, the ends of the range; whether they are inclusive is undocumented.
RANGE_OPERATORS: Final = frozenset({"BETWEEN", "NBETWEEN"})
#: Emptiness tests. The manual does not describe their values; they are sent with none
#: (``field_values: []``) and a value is refused rather than guessed at.
EMPTINESS_OPERATORS: Final = frozenset({"IS", "ISN"})
#: Spellings people try that the gateway does not know -> the manual's name (used in error hints).
OPERATOR_HINTS: Final[dict[str, str]] = {
    "NE": "N",
    "NEQ": "N",
    "!=": "N",
    "=": "EQ",
    "==": "EQ",
    ">": "GT",
    ">=": "GTE",
    "<": "LT",
    "<=": "LTE",
    "NOT IN": "NIN",
    "NOTIN": "NIN",
}
#: The keyset cursor's operator: strictly after the last id seen.
AFTER_OPERATOR: Final = "GT"

# --- limits -------------------------------------------------------------------------------------
#: Records per query page, at most (current pages of the manual; older sources said 1000).
MAX_PAGE_SIZE: Final = 100
#: A query's ``offset`` at most; beyond it the gateway answers ``OFFSET_OUT_OF_RANGE_CODE``.
#: Keyset paging keeps ``offset`` at 0, so it never gets there.
MAX_OFFSET: Final = 10_000
OFFSET_OUT_OF_RANGE_CODE: Final = 10013
