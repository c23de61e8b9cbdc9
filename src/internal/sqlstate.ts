/**
 * Every SQLSTATE of PostgreSQL 18: Appendix A of the manual, i.e. `src/backend/utils/errcodes.txt`
 * (262 codes in 43 classes), with the condition names PL/pgSQL uses.
 *
 * Why data: classification needs to know every code the server can send, including ones added
 * since PG 15 (`25P04 transaction_timeout`, `58P03 file_name_too_long`, `10608`), and
 * `describeSqlState` names them. What we do with a code lives in `SQLSTATE_CLASS_RULES` (per
 * class) and `SQLSTATE_RULES` (per code, overriding its class) below.
 *
 * @internal
 */

import { type ConstraintKind, type DatabaseErrorTag, defaultUserMessages } from "../Errors.js"

/** Whether the server reports the code as an error, a warning or success (second field of errcodes.txt). */
export type SqlStateSeverity = "E" | "W" | "S"

/** One line of errcodes.txt. Why a tuple: 262 rows read far better in this shape. */
export type SqlStateEntry = readonly [code: string, conditionName: string, severity: SqlStateSeverity]

/** Why: the class (first two characters) gives every code a fallback meaning and a readable group name. */
export const SQLSTATE_CLASSES: ReadonlyArray<readonly [classCode: string, description: string]> = [
  ["00", "Successful Completion"],
  ["01", "Warning"],
  ["02", "No Data"],
  ["03", "SQL Statement Not Yet Complete"],
  ["08", "Connection Exception"],
  ["09", "Triggered Action Exception"],
  ["0A", "Feature Not Supported"],
  ["0B", "Invalid Transaction Initiation"],
  ["0F", "Locator Exception"],
  ["0L", "Invalid Grantor"],
  ["0P", "Invalid Role Specification"],
  ["0Z", "Diagnostics Exception"],
  ["10", "XQuery Error"],
  ["20", "Case Not Found"],
  ["21", "Cardinality Violation"],
  ["22", "Data Exception"],
  ["23", "Integrity Constraint Violation"],
  ["24", "Invalid Cursor State"],
  ["25", "Invalid Transaction State"],
  ["26", "Invalid SQL Statement Name"],
  ["27", "Triggered Data Change Violation"],
  ["28", "Invalid Authorization Specification"],
  ["2B", "Dependent Privilege Descriptors Still Exist"],
  ["2D", "Invalid Transaction Termination"],
  ["2F", "SQL Routine Exception"],
  ["34", "Invalid Cursor Name"],
  ["38", "External Routine Exception"],
  ["39", "External Routine Invocation Exception"],
  ["3B", "Savepoint Exception"],
  ["3D", "Invalid Catalog Name"],
  ["3F", "Invalid Schema Name"],
  ["40", "Transaction Rollback"],
  ["42", "Syntax Error or Access Rule Violation"],
  ["44", "WITH CHECK OPTION Violation"],
  ["53", "Insufficient Resources"],
  ["54", "Program Limit Exceeded"],
  ["55", "Object Not In Prerequisite State"],
  ["57", "Operator Intervention"],
  ["58", "System Error (errors external to PostgreSQL itself)"],
  ["F0", "Configuration File Error"],
  ["HV", "Foreign Data Wrapper Error (SQL/MED)"],
  ["P0", "PL/pgSQL Error"],
  ["XX", "Internal Error"]
]

/** Why: the complete list lets `describeSqlState` name any code and lets tests prove nothing is missing. */
export const SQLSTATES: ReadonlyArray<SqlStateEntry> = [
  // Class 00 - Successful Completion
  ["00000", "successful_completion", "S"],
  // Class 01 - Warning
  ["01000", "warning", "W"],
  ["0100C", "dynamic_result_sets_returned", "W"],
  ["01008", "implicit_zero_bit_padding", "W"],
  ["01003", "null_value_eliminated_in_set_function", "W"],
  ["01007", "privilege_not_granted", "W"],
  ["01006", "privilege_not_revoked", "W"],
  ["01004", "string_data_right_truncation", "W"],
  ["01P01", "deprecated_feature", "W"],
  // Class 02 - No Data
  ["02000", "no_data", "W"],
  ["02001", "no_additional_dynamic_result_sets_returned", "W"],
  // Class 03 - SQL Statement Not Yet Complete
  ["03000", "sql_statement_not_yet_complete", "E"],
  // Class 08 - Connection Exception
  ["08000", "connection_exception", "E"],
  ["08003", "connection_does_not_exist", "E"],
  ["08006", "connection_failure", "E"],
  ["08001", "sqlclient_unable_to_establish_sqlconnection", "E"],
  ["08004", "sqlserver_rejected_establishment_of_sqlconnection", "E"],
  ["08007", "transaction_resolution_unknown", "E"],
  ["08P01", "protocol_violation", "E"],
  // Class 09 - Triggered Action Exception
  ["09000", "triggered_action_exception", "E"],
  // Class 0A - Feature Not Supported
  ["0A000", "feature_not_supported", "E"],
  // Class 0B - Invalid Transaction Initiation
  ["0B000", "invalid_transaction_initiation", "E"],
  // Class 0F - Locator Exception
  ["0F000", "locator_exception", "E"],
  ["0F001", "invalid_locator_specification", "E"],
  // Class 0L - Invalid Grantor
  ["0L000", "invalid_grantor", "E"],
  ["0LP01", "invalid_grant_operation", "E"],
  // Class 0P - Invalid Role Specification
  ["0P000", "invalid_role_specification", "E"],
  // Class 0Z - Diagnostics Exception
  ["0Z000", "diagnostics_exception", "E"],
  ["0Z002", "stacked_diagnostics_accessed_without_active_handler", "E"],
  // Class 10 - XQuery Error
  ["10608", "invalid_argument_for_xquery", "E"],
  // Class 20 - Case Not Found
  ["20000", "case_not_found", "E"],
  // Class 21 - Cardinality Violation
  ["21000", "cardinality_violation", "E"],
  // Class 22 - Data Exception
  ["22000", "data_exception", "E"],
  ["2202E", "array_subscript_error", "E"],
  ["22021", "character_not_in_repertoire", "E"],
  ["22008", "datetime_field_overflow", "E"],
  ["22012", "division_by_zero", "E"],
  ["22005", "error_in_assignment", "E"],
  ["2200B", "escape_character_conflict", "E"],
  ["22022", "indicator_overflow", "E"],
  ["22015", "interval_field_overflow", "E"],
  ["2201E", "invalid_argument_for_logarithm", "E"],
  ["22014", "invalid_argument_for_ntile_function", "E"],
  ["22016", "invalid_argument_for_nth_value_function", "E"],
  ["2201F", "invalid_argument_for_power_function", "E"],
  ["2201G", "invalid_argument_for_width_bucket_function", "E"],
  ["22018", "invalid_character_value_for_cast", "E"],
  ["22007", "invalid_datetime_format", "E"],
  ["22019", "invalid_escape_character", "E"],
  ["2200D", "invalid_escape_octet", "E"],
  ["22025", "invalid_escape_sequence", "E"],
  ["22P06", "nonstandard_use_of_escape_character", "E"],
  ["22010", "invalid_indicator_parameter_value", "E"],
  ["22023", "invalid_parameter_value", "E"],
  ["22013", "invalid_preceding_or_following_size", "E"],
  ["2201B", "invalid_regular_expression", "E"],
  ["2201W", "invalid_row_count_in_limit_clause", "E"],
  ["2201X", "invalid_row_count_in_result_offset_clause", "E"],
  ["2202H", "invalid_tablesample_argument", "E"],
  ["2202G", "invalid_tablesample_repeat", "E"],
  ["22009", "invalid_time_zone_displacement_value", "E"],
  ["2200C", "invalid_use_of_escape_character", "E"],
  ["2200G", "most_specific_type_mismatch", "E"],
  ["22004", "null_value_not_allowed", "E"],
  ["22002", "null_value_no_indicator_parameter", "E"],
  ["22003", "numeric_value_out_of_range", "E"],
  ["2200H", "sequence_generator_limit_exceeded", "E"],
  ["22026", "string_data_length_mismatch", "E"],
  ["22001", "string_data_right_truncation", "E"],
  ["22011", "substring_error", "E"],
  ["22027", "trim_error", "E"],
  ["22024", "unterminated_c_string", "E"],
  ["2200F", "zero_length_character_string", "E"],
  ["22P01", "floating_point_exception", "E"],
  ["22P02", "invalid_text_representation", "E"],
  ["22P03", "invalid_binary_representation", "E"],
  ["22P04", "bad_copy_file_format", "E"],
  ["22P05", "untranslatable_character", "E"],
  ["2200L", "not_an_xml_document", "E"],
  ["2200M", "invalid_xml_document", "E"],
  ["2200N", "invalid_xml_content", "E"],
  ["2200S", "invalid_xml_comment", "E"],
  ["2200T", "invalid_xml_processing_instruction", "E"],
  ["22030", "duplicate_json_object_key_value", "E"],
  ["22031", "invalid_argument_for_sql_json_datetime_function", "E"],
  ["22032", "invalid_json_text", "E"],
  ["22033", "invalid_sql_json_subscript", "E"],
  ["22034", "more_than_one_sql_json_item", "E"],
  ["22035", "no_sql_json_item", "E"],
  ["22036", "non_numeric_sql_json_item", "E"],
  ["22037", "non_unique_keys_in_a_json_object", "E"],
  ["22038", "singleton_sql_json_item_required", "E"],
  ["22039", "sql_json_array_not_found", "E"],
  ["2203A", "sql_json_member_not_found", "E"],
  ["2203B", "sql_json_number_not_found", "E"],
  ["2203C", "sql_json_object_not_found", "E"],
  ["2203D", "too_many_json_array_elements", "E"],
  ["2203E", "too_many_json_object_members", "E"],
  ["2203F", "sql_json_scalar_required", "E"],
  ["2203G", "sql_json_item_cannot_be_cast_to_target_type", "E"],
  // Class 23 - Integrity Constraint Violation
  ["23000", "integrity_constraint_violation", "E"],
  ["23001", "restrict_violation", "E"],
  ["23502", "not_null_violation", "E"],
  ["23503", "foreign_key_violation", "E"],
  ["23505", "unique_violation", "E"],
  ["23514", "check_violation", "E"],
  ["23P01", "exclusion_violation", "E"],
  // Class 24 - Invalid Cursor State
  ["24000", "invalid_cursor_state", "E"],
  // Class 25 - Invalid Transaction State
  ["25000", "invalid_transaction_state", "E"],
  ["25001", "active_sql_transaction", "E"],
  ["25002", "branch_transaction_already_active", "E"],
  ["25008", "held_cursor_requires_same_isolation_level", "E"],
  ["25003", "inappropriate_access_mode_for_branch_transaction", "E"],
  ["25004", "inappropriate_isolation_level_for_branch_transaction", "E"],
  ["25005", "no_active_sql_transaction_for_branch_transaction", "E"],
  ["25006", "read_only_sql_transaction", "E"],
  ["25007", "schema_and_data_statement_mixing_not_supported", "E"],
  ["25P01", "no_active_sql_transaction", "E"],
  ["25P02", "in_failed_sql_transaction", "E"],
  ["25P03", "idle_in_transaction_session_timeout", "E"],
  ["25P04", "transaction_timeout", "E"],
  // Class 26 - Invalid SQL Statement Name
  ["26000", "invalid_sql_statement_name", "E"],
  // Class 27 - Triggered Data Change Violation
  ["27000", "triggered_data_change_violation", "E"],
  // Class 28 - Invalid Authorization Specification
  ["28000", "invalid_authorization_specification", "E"],
  ["28P01", "invalid_password", "E"],
  // Class 2B - Dependent Privilege Descriptors Still Exist
  ["2B000", "dependent_privilege_descriptors_still_exist", "E"],
  ["2BP01", "dependent_objects_still_exist", "E"],
  // Class 2D - Invalid Transaction Termination
  ["2D000", "invalid_transaction_termination", "E"],
  // Class 2F - SQL Routine Exception
  ["2F000", "sql_routine_exception", "E"],
  ["2F005", "function_executed_no_return_statement", "E"],
  ["2F002", "modifying_sql_data_not_permitted", "E"],
  ["2F003", "prohibited_sql_statement_attempted", "E"],
  ["2F004", "reading_sql_data_not_permitted", "E"],
  // Class 34 - Invalid Cursor Name
  ["34000", "invalid_cursor_name", "E"],
  // Class 38 - External Routine Exception
  ["38000", "external_routine_exception", "E"],
  ["38001", "containing_sql_not_permitted", "E"],
  ["38002", "modifying_sql_data_not_permitted", "E"],
  ["38003", "prohibited_sql_statement_attempted", "E"],
  ["38004", "reading_sql_data_not_permitted", "E"],
  // Class 39 - External Routine Invocation Exception
  ["39000", "external_routine_invocation_exception", "E"],
  ["39001", "invalid_sqlstate_returned", "E"],
  ["39004", "null_value_not_allowed", "E"],
  ["39P01", "trigger_protocol_violated", "E"],
  ["39P02", "srf_protocol_violated", "E"],
  ["39P03", "event_trigger_protocol_violated", "E"],
  // Class 3B - Savepoint Exception
  ["3B000", "savepoint_exception", "E"],
  ["3B001", "invalid_savepoint_specification", "E"],
  // Class 3D - Invalid Catalog Name
  ["3D000", "invalid_catalog_name", "E"],
  // Class 3F - Invalid Schema Name
  ["3F000", "invalid_schema_name", "E"],
  // Class 40 - Transaction Rollback
  ["40000", "transaction_rollback", "E"],
  ["40002", "transaction_integrity_constraint_violation", "E"],
  ["40001", "serialization_failure", "E"],
  ["40003", "statement_completion_unknown", "E"],
  ["40P01", "deadlock_detected", "E"],
  // Class 42 - Syntax Error or Access Rule Violation
  ["42000", "syntax_error_or_access_rule_violation", "E"],
  ["42601", "syntax_error", "E"],
  ["42501", "insufficient_privilege", "E"],
  ["42846", "cannot_coerce", "E"],
  ["42803", "grouping_error", "E"],
  ["42P20", "windowing_error", "E"],
  ["42P19", "invalid_recursion", "E"],
  ["42830", "invalid_foreign_key", "E"],
  ["42602", "invalid_name", "E"],
  ["42622", "name_too_long", "E"],
  ["42939", "reserved_name", "E"],
  ["42804", "datatype_mismatch", "E"],
  ["42P18", "indeterminate_datatype", "E"],
  ["42P21", "collation_mismatch", "E"],
  ["42P22", "indeterminate_collation", "E"],
  ["42809", "wrong_object_type", "E"],
  ["428C9", "generated_always", "E"],
  ["42703", "undefined_column", "E"],
  ["42883", "undefined_function", "E"],
  ["42P01", "undefined_table", "E"],
  ["42P02", "undefined_parameter", "E"],
  ["42704", "undefined_object", "E"],
  ["42701", "duplicate_column", "E"],
  ["42P03", "duplicate_cursor", "E"],
  ["42P04", "duplicate_database", "E"],
  ["42723", "duplicate_function", "E"],
  ["42P05", "duplicate_prepared_statement", "E"],
  ["42P06", "duplicate_schema", "E"],
  ["42P07", "duplicate_table", "E"],
  ["42712", "duplicate_alias", "E"],
  ["42710", "duplicate_object", "E"],
  ["42702", "ambiguous_column", "E"],
  ["42725", "ambiguous_function", "E"],
  ["42P08", "ambiguous_parameter", "E"],
  ["42P09", "ambiguous_alias", "E"],
  ["42P10", "invalid_column_reference", "E"],
  ["42611", "invalid_column_definition", "E"],
  ["42P11", "invalid_cursor_definition", "E"],
  ["42P12", "invalid_database_definition", "E"],
  ["42P13", "invalid_function_definition", "E"],
  ["42P14", "invalid_prepared_statement_definition", "E"],
  ["42P15", "invalid_schema_definition", "E"],
  ["42P16", "invalid_table_definition", "E"],
  ["42P17", "invalid_object_definition", "E"],
  // Class 44 - WITH CHECK OPTION Violation
  ["44000", "with_check_option_violation", "E"],
  // Class 53 - Insufficient Resources
  ["53000", "insufficient_resources", "E"],
  ["53100", "disk_full", "E"],
  ["53200", "out_of_memory", "E"],
  ["53300", "too_many_connections", "E"],
  ["53400", "configuration_limit_exceeded", "E"],
  // Class 54 - Program Limit Exceeded
  ["54000", "program_limit_exceeded", "E"],
  ["54001", "statement_too_complex", "E"],
  ["54011", "too_many_columns", "E"],
  ["54023", "too_many_arguments", "E"],
  // Class 55 - Object Not In Prerequisite State
  ["55000", "object_not_in_prerequisite_state", "E"],
  ["55006", "object_in_use", "E"],
  ["55P02", "cant_change_runtime_param", "E"],
  ["55P03", "lock_not_available", "E"],
  ["55P04", "unsafe_new_enum_value_usage", "E"],
  // Class 57 - Operator Intervention
  ["57000", "operator_intervention", "E"],
  ["57014", "query_canceled", "E"],
  ["57P01", "admin_shutdown", "E"],
  ["57P02", "crash_shutdown", "E"],
  ["57P03", "cannot_connect_now", "E"],
  ["57P04", "database_dropped", "E"],
  ["57P05", "idle_session_timeout", "E"],
  // Class 58 - System Error (errors external to PostgreSQL itself)
  ["58000", "system_error", "E"],
  ["58030", "io_error", "E"],
  ["58P01", "undefined_file", "E"],
  ["58P02", "duplicate_file", "E"],
  ["58P03", "file_name_too_long", "E"],
  // Class F0 - Configuration File Error
  ["F0000", "config_file_error", "E"],
  ["F0001", "lock_file_exists", "E"],
  // Class HV - Foreign Data Wrapper Error (SQL/MED)
  ["HV000", "fdw_error", "E"],
  ["HV005", "fdw_column_name_not_found", "E"],
  ["HV002", "fdw_dynamic_parameter_value_needed", "E"],
  ["HV010", "fdw_function_sequence_error", "E"],
  ["HV021", "fdw_inconsistent_descriptor_information", "E"],
  ["HV024", "fdw_invalid_attribute_value", "E"],
  ["HV007", "fdw_invalid_column_name", "E"],
  ["HV008", "fdw_invalid_column_number", "E"],
  ["HV004", "fdw_invalid_data_type", "E"],
  ["HV006", "fdw_invalid_data_type_descriptors", "E"],
  ["HV091", "fdw_invalid_descriptor_field_identifier", "E"],
  ["HV00B", "fdw_invalid_handle", "E"],
  ["HV00C", "fdw_invalid_option_index", "E"],
  ["HV00D", "fdw_invalid_option_name", "E"],
  ["HV090", "fdw_invalid_string_length_or_buffer_length", "E"],
  ["HV00A", "fdw_invalid_string_format", "E"],
  ["HV009", "fdw_invalid_use_of_null_pointer", "E"],
  ["HV014", "fdw_too_many_handles", "E"],
  ["HV001", "fdw_out_of_memory", "E"],
  ["HV00P", "fdw_no_schemas", "E"],
  ["HV00J", "fdw_option_name_not_found", "E"],
  ["HV00K", "fdw_reply_handle", "E"],
  ["HV00Q", "fdw_schema_not_found", "E"],
  ["HV00R", "fdw_table_not_found", "E"],
  ["HV00L", "fdw_unable_to_create_execution", "E"],
  ["HV00M", "fdw_unable_to_create_reply", "E"],
  ["HV00N", "fdw_unable_to_establish_connection", "E"],
  // Class P0 - PL/pgSQL Error
  ["P0000", "plpgsql_error", "E"],
  ["P0001", "raise_exception", "E"],
  ["P0002", "no_data_found", "E"],
  ["P0003", "too_many_rows", "E"],
  ["P0004", "assert_failure", "E"],
  // Class XX - Internal Error
  ["XX000", "internal_error", "E"],
  ["XX001", "data_corrupted", "E"],
  ["XX002", "index_corrupted", "E"]
]

// ---------------------------------------------------------------------------
// What we do with each code: class defaults, then per-code overrides.
// ---------------------------------------------------------------------------

/** The member of the `DatabaseError` union a SQLSTATE maps to (our own deadline has no SQLSTATE). */
export type SqlStateTag = Exclude<DatabaseErrorTag, "TransactionTimeout">

/** Why: one rule decides the tagged error, the constraint kind and the fallback user message of a code. */
export interface SqlStateRule {
  readonly tag: SqlStateTag
  /** Only for `ConstraintViolation`. */
  readonly kind?: ConstraintKind
  /** Plain language for end users when nothing more specific (such as the field) is known. */
  readonly userMessage: string
}

/** Copy several codes share beyond the members' defaults (those live in `Errors.ts`). */
const M = {
  interrupted: "The database connection was interrupted. Please try again.",
  json: "A JSON value is not valid.",
  xml: "An XML value is not valid.",
  datetime: "A date or time value is not valid.",
  format: "A value has an invalid format.",
  characters: "A value contains characters that are not allowed.",
  appAuth: "The application is not authorized to access the database. Please contact support."
} as const

/** A code that means the member `tag`: with the member's default user message unless a more specific one is given. */
const rule = (tag: Exclude<SqlStateTag, "ConstraintViolation">, userMessage?: string): SqlStateRule => ({
  tag,
  userMessage: userMessage ?? defaultUserMessages[tag]
})

/** A code of an integrity rule: a `ConstraintViolation` of `kind`. */
const constraint = (kind: ConstraintKind, userMessage?: string): SqlStateRule => ({
  tag: "ConstraintViolation",
  kind,
  userMessage: userMessage ?? defaultUserMessages.ConstraintViolation
})

/** Why: a code we have no override for (or a future one) still gets a sensible meaning from its class. */
export const SQLSTATE_CLASS_RULES: Readonly<Record<string, SqlStateRule>> = {
  "00": rule("UnknownDatabaseError"),
  "01": rule("UnknownDatabaseError"),
  "02": rule("NotFound"),
  "03": rule("QueryError"),
  "08": rule("ConnectionError"),
  "09": rule("QueryError"),
  "0A": rule("QueryError", "This operation is not supported."),
  "0B": rule("QueryError"),
  "0F": rule("QueryError"),
  "0L": rule("QueryError"),
  "0P": rule("QueryError"),
  "0Z": rule("QueryError"),
  "10": rule("InvalidData", M.xml),
  "20": rule("QueryError"),
  "21": rule("QueryError"),
  "22": rule("InvalidData"),
  "23": constraint("other"),
  "24": rule("QueryError"),
  "25": rule("QueryError"),
  "26": rule("QueryError"),
  "27": rule("QueryError"),
  "28": rule("PermissionDenied", M.appAuth),
  "2B": rule("QueryError"),
  "2D": rule("QueryError"),
  "2F": rule("QueryError"),
  "34": rule("QueryError"),
  "38": rule("QueryError"),
  "39": rule("QueryError"),
  "3B": rule("QueryError"),
  "3D": rule("QueryError"),
  "3F": rule("QueryError"),
  "40": rule("SerializationFailure"),
  "42": rule("QueryError"),
  "44": constraint("check", "The data is not allowed here."),
  "53": rule("UnknownDatabaseError", "The database is short of resources right now. Please try again later."),
  "54": rule("UnknownDatabaseError", "The request is too large or too complex to process."),
  "55": rule("QueryError", "The request cannot be processed right now."),
  "57": rule("UnknownDatabaseError", "The database stopped the operation. Please try again later."),
  "58": rule("UnknownDatabaseError", "The database hit a system error. Please contact support."),
  "F0": rule("UnknownDatabaseError", "The database is misconfigured. Please contact support."),
  "HV": rule("UnknownDatabaseError", "An external data source failed. Please contact support."),
  "P0": rule("QueryError"),
  "XX": rule("UnknownDatabaseError", "An internal database error occurred. Please contact support.")
}

/** Why: codes whose meaning differs from their class (deadlocks, timeouts, commit outcome, ...). */
export const SQLSTATE_RULES: Readonly<Record<string, SqlStateRule>> = {
  // 08: connection exceptions are retryable, except these two
  "08007": rule("CommitOutcomeUnknown"), // transaction_resolution_unknown
  "08P01": rule("QueryError"), // protocol_violation: e.g. wrong number of bind parameters, a bug
  // 22: data exceptions
  "22001": rule("InvalidData", "A value is too long."),
  "22002": rule("InvalidData", "A required value is missing."),
  "22003": rule("InvalidData", "A number is out of range."),
  "22004": rule("InvalidData", "A required value is missing."),
  "22007": rule("InvalidData", M.datetime),
  "22008": rule("InvalidData", M.datetime),
  "22009": rule("InvalidData", M.datetime),
  "22012": rule("InvalidData", "A calculation tried to divide by zero."),
  "22015": rule("InvalidData", "A time interval is out of range."),
  "22018": rule("InvalidData", M.format),
  "22021": rule("InvalidData", M.characters),
  "22026": rule("InvalidData", "A value has the wrong length."),
  "2200H": rule("InvalidData", "A sequence has run out of numbers. Please contact support."),
  "2201B": rule("InvalidData", "A search pattern is not valid."),
  "22P01": rule("InvalidData", "A number is out of range."),
  "22P02": rule("InvalidData", M.format),
  "22P03": rule("InvalidData", M.format),
  "22P05": rule("InvalidData", M.characters),
  "2200L": rule("InvalidData", M.xml),
  "2200M": rule("InvalidData", M.xml),
  "2200N": rule("InvalidData", M.xml),
  "2200S": rule("InvalidData", M.xml),
  "2200T": rule("InvalidData", M.xml),
  "22030": rule("InvalidData", M.json),
  "22031": rule("InvalidData", M.datetime),
  "22032": rule("InvalidData", M.json),
  "22033": rule("InvalidData", M.json),
  "22034": rule("InvalidData", M.json),
  "22035": rule("InvalidData", M.json),
  "22036": rule("InvalidData", M.json),
  "22037": rule("InvalidData", M.json),
  "22038": rule("InvalidData", M.json),
  "22039": rule("InvalidData", M.json),
  "2203A": rule("InvalidData", M.json),
  "2203B": rule("InvalidData", M.json),
  "2203C": rule("InvalidData", M.json),
  "2203D": rule("InvalidData", M.json),
  "2203E": rule("InvalidData", M.json),
  "2203F": rule("InvalidData", M.json),
  "2203G": rule("InvalidData", M.json),
  // 23: integrity constraints
  "23000": constraint("other"),
  "23001": constraint("restrict", "This record is still in use and cannot be changed or deleted."),
  "23502": constraint("not_null", "A required field is missing."),
  "23503": constraint("foreign_key", "This refers to a related record that does not exist."),
  "23505": constraint("unique", "A record with these details already exists."),
  "23514": constraint("check", "One of the values is not allowed."),
  "23P01": constraint("exclusion", "This conflicts with an existing record."),
  // 25: transaction state; the two session/transaction deadlines are timeouts
  "25006": rule("QueryError", "Changes cannot be made right now."), // read_only_sql_transaction
  "25P03": rule("QueryTimeout"), // idle_in_transaction_session_timeout
  "25P04": rule("QueryTimeout"), // transaction_timeout (PG 17+)
  // 28 and 42501: permissions
  "28P01": rule("PermissionDenied", M.appAuth),
  "42501": rule("PermissionDenied"),
  // 40: transaction rollback
  "40001": rule("SerializationFailure"),
  "40002": constraint("other"),
  "40003": rule("CommitOutcomeUnknown"), // statement_completion_unknown
  "40P01": rule("Deadlock"),
  // 53: only too_many_connections is a (retryable) connection problem
  "53100": rule("UnknownDatabaseError", "The database is out of storage space. Please contact support."),
  "53200": rule("UnknownDatabaseError", "The database is out of memory. Please try again later."),
  "53300": rule("ConnectionError", "The database is busy right now. Please try again in a moment."),
  // 55: lock_not_available is a lock_timeout / NOWAIT failure
  "55P03": rule("QueryTimeout", "The data is being changed by another operation. Please try again."),
  // 57: operator intervention
  "57014": rule("QueryTimeout"), // query_canceled (statement_timeout or a cancel request)
  "57P01": rule("ConnectionError", M.interrupted), // admin_shutdown (also pg_terminate_backend)
  "57P02": rule("ConnectionError", M.interrupted), // crash_shutdown
  "57P03": rule("ConnectionError"), // cannot_connect_now
  "57P04": rule("UnknownDatabaseError", "The database is no longer available. Please contact support."),
  "57P05": rule("ConnectionError", M.interrupted), // idle_session_timeout
  // HV: a foreign server that cannot be reached is a connection problem
  "HV00N": rule("ConnectionError"),
  // P0: PL/pgSQL
  "P0000": rule("UnknownDatabaseError"),
  "P0002": rule("NotFound"), // no_data_found (SELECT ... INTO STRICT)
  "P0004": rule("UnknownDatabaseError"), // assert_failure
  // XX: internal errors
  "XX001": rule("UnknownDatabaseError", "The database reported damaged data. Please contact support."),
  "XX002": rule("UnknownDatabaseError", "The database reported damaged data. Please contact support.")
}

const NAMES: ReadonlyMap<string, readonly [name: string, severity: SqlStateSeverity]> = new Map(
  SQLSTATES.map(([code, name, severity]) => [code, [name, severity]] as const)
)
const CLASS_NAMES: ReadonlyMap<string, string> = new Map(SQLSTATE_CLASSES)

/** Why: one lookup for the condition name and severity of a code. */
export const sqlStateName = (code: string): readonly [name: string, severity: SqlStateSeverity] | undefined =>
  NAMES.get(code)

/** Why: one lookup for the description of a class ("23" -> "Integrity Constraint Violation"). */
export const sqlStateClassName = (classCode: string): string | undefined => CLASS_NAMES.get(classCode)

/** Why: the rule for a code: its own override, else its class default, else `undefined`. */
export const sqlStateRule = (code: string): SqlStateRule | undefined =>
  SQLSTATE_RULES[code] ?? SQLSTATE_CLASS_RULES[code.slice(0, 2)]
