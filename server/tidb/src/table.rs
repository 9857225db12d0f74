//! One table at one schema version, as the rows of a binlog need it: names, columns with their
//! IDs and types, and the keys. Built by the schema history from TiDB's `TableInfo` JSON.

/// MySQL type codes (TiDB's `mysql.Type*`, the `Tp` of a `FieldType`).
pub mod mysql_type {
    /// `DECIMAL` (old).
    pub const DECIMAL: u8 = 0;
    /// `TINYINT`.
    pub const TINY: u8 = 1;
    /// `SMALLINT`.
    pub const SHORT: u8 = 2;
    /// `INT`.
    pub const LONG: u8 = 3;
    /// `FLOAT`.
    pub const FLOAT: u8 = 4;
    /// `DOUBLE`.
    pub const DOUBLE: u8 = 5;
    /// `NULL`.
    pub const NULL: u8 = 6;
    /// `TIMESTAMP`.
    pub const TIMESTAMP: u8 = 7;
    /// `BIGINT`.
    pub const LONGLONG: u8 = 8;
    /// `MEDIUMINT`.
    pub const INT24: u8 = 9;
    /// `DATE`.
    pub const DATE: u8 = 10;
    /// `TIME`.
    pub const DURATION: u8 = 11;
    /// `DATETIME`.
    pub const DATETIME: u8 = 12;
    /// `YEAR`.
    pub const YEAR: u8 = 13;
    /// `DATE` (new).
    pub const NEWDATE: u8 = 14;
    /// `VARCHAR`.
    pub const VARCHAR: u8 = 15;
    /// `BIT`.
    pub const BIT: u8 = 16;
    /// TiDB's `VECTOR(FLOAT)` (v8.4+; never in a binlog, kept to name it in errors).
    pub const TIDB_VECTOR_FLOAT32: u8 = 225;
    /// `JSON`.
    pub const JSON: u8 = 245;
    /// `DECIMAL`.
    pub const NEWDECIMAL: u8 = 246;
    /// `ENUM`.
    pub const ENUM: u8 = 247;
    /// `SET`.
    pub const SET: u8 = 248;
    /// `TINYBLOB`/`TINYTEXT`.
    pub const TINY_BLOB: u8 = 249;
    /// `MEDIUMBLOB`/`MEDIUMTEXT`.
    pub const MEDIUM_BLOB: u8 = 250;
    /// `LONGBLOB`/`LONGTEXT`.
    pub const LONG_BLOB: u8 = 251;
    /// `BLOB`/`TEXT`.
    pub const BLOB: u8 = 252;
    /// `VARBINARY`/`VARCHAR`.
    pub const VAR_STRING: u8 = 253;
    /// `CHAR`/`BINARY`.
    pub const STRING: u8 = 254;
    /// `GEOMETRY`.
    pub const GEOMETRY: u8 = 255;
}

/// Column flags (TiDB's `mysql.*Flag`, the `Flag` of a `FieldType`).
pub mod column_flag {
    /// `NOT NULL`.
    pub const NOT_NULL: u32 = 1;
    /// Part of the primary key.
    pub const PRI_KEY: u32 = 1 << 1;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u32 = 1 << 2;
    /// Binary collation.
    pub const BINARY: u32 = 1 << 7;
    /// `UNSIGNED`.
    pub const UNSIGNED: u32 = 1 << 5;
    /// A generated column.
    pub const GENERATED: u32 = 1 << 23;
}

/// TiDB's `SchemaState` of a column or index (`model.StatePublic` and the states before it).
pub mod schema_state {
    /// Not yet (or no longer) anywhere.
    pub const NONE: u8 = 0;
    /// Being dropped or added: only deletes see it.
    pub const DELETE_ONLY: u8 = 1;
    /// Being added: writes fill it, reads do not see it.
    pub const WRITE_ONLY: u8 = 2;
    /// Being added, data reorganised.
    pub const WRITE_REORGANIZATION: u8 = 3;
    /// Being dropped, data reorganised.
    pub const DELETE_REORGANIZATION: u8 = 4;
    /// Visible to everyone.
    pub const PUBLIC: u8 = 5;
}

/// One table at one schema version.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The logical table ID (a partitioned table's own ID, not a partition's).
    pub id: i64,
    /// The schema version at which this shape became current.
    pub schema_version: i64,
    /// Database name as created (original case).
    pub db: String,
    /// Table name as created (original case).
    pub name: String,
    /// Every column, in offset order (`columns[i].offset == i`), including non-public and
    /// generated ones: a row decoder needs them all to place values by column ID.
    pub columns: Vec<Column>,
    /// The integer primary key is the row handle (`pk_is_handle`): inserts carry its value as
    /// the handle, not as a column pair.
    pub pk_is_handle: bool,
    /// The primary key is a clustered (common) handle (`is_common_handle`).
    pub is_common_handle: bool,
    /// Offsets into `columns` of the primary key's columns, empty when the table has none.
    pub primary_key: Vec<usize>,
    /// Public unique indexes other than the primary key.
    pub unique_keys: Vec<UniqueKey>,
}

/// A unique index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    /// Index name.
    pub name: String,
    /// Offsets into the table's `columns`.
    pub columns: Vec<usize>,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Column ID (stable across renames; what rows are keyed by).
    pub id: i64,
    /// Name as created.
    pub name: String,
    /// Offset in the table's columns.
    pub offset: usize,
    /// MySQL type code ([`mysql_type`]).
    pub tp: u8,
    /// Flags ([`column_flag`]).
    pub flag: u32,
    /// Display length / precision (`Flen`; -1 when unspecified).
    pub flen: i64,
    /// Scale of a decimal, fractional-second precision of a time (`Decimal`; -1 when
    /// unspecified).
    pub decimal: i64,
    /// Character set (`binary` for binary strings).
    pub charset: String,
    /// Collation.
    pub collate: String,
    /// `ENUM`/`SET` elements.
    pub elems: Vec<String>,
    /// The origin default (what rows written before the column existed hold), as TiDB's JSON
    /// has it: `None` for no default, a JSON string for most types (timestamps in UTC), and for
    /// `BIT` the unsigned number its bytes spell (TiDB's `origin_default_bit`).
    pub origin_default: Option<serde_json::Value>,
    /// Whether the column is generated (its value is never written downstream).
    pub generated: bool,
    /// Its [`schema_state`].
    pub state: u8,
}

impl Column {
    /// A public, written column at `offset` with ID `id`: no origin default, display length 8,
    /// no decimals, no collation or elements (what a table built by hand, in tests and tools,
    /// needs).
    pub fn new(offset: usize, id: i64, name: &str, tp: u8, flag: u32, charset: &str) -> Column {
        Column {
            id,
            name: name.into(),
            offset,
            tp,
            flag,
            flen: 8,
            decimal: 0,
            charset: charset.into(),
            collate: String::new(),
            elems: Vec::new(),
            origin_default: None,
            generated: false,
            state: schema_state::PUBLIC,
        }
    }

    /// `UNSIGNED`.
    pub fn is_unsigned(&self) -> bool {
        self.flag & column_flag::UNSIGNED != 0
    }

    /// `NOT NULL`.
    pub fn is_not_null(&self) -> bool {
        self.flag & column_flag::NOT_NULL != 0
    }

    /// Visible to everyone (not being added or dropped).
    pub fn is_public(&self) -> bool {
        self.state == schema_state::PUBLIC
    }

    /// Written downstream: public and not generated (the original's `writableColumns`).
    pub fn is_writable(&self) -> bool {
        self.is_public() && !self.generated
    }

    /// A binary string or blob (its bytes are not text).
    pub fn is_binary_string(&self) -> bool {
        self.charset == "binary"
    }

    /// The column's type as TiDB's `types.TypeToStr` names it: lower case, binary strings and
    /// blobs by their binary names.
    pub fn type_name(&self) -> &'static str {
        let binary = self.is_binary_string();
        match self.tp {
            mysql_type::BIT => "bit",
            mysql_type::TINY_BLOB if binary => "tinyblob",
            mysql_type::TINY_BLOB => "tinytext",
            mysql_type::MEDIUM_BLOB if binary => "mediumblob",
            mysql_type::MEDIUM_BLOB => "mediumtext",
            mysql_type::LONG_BLOB if binary => "longblob",
            mysql_type::LONG_BLOB => "longtext",
            mysql_type::BLOB if binary => "blob",
            mysql_type::BLOB => "text",
            mysql_type::DATE | mysql_type::NEWDATE => "date",
            mysql_type::DATETIME => "datetime",
            mysql_type::DECIMAL | mysql_type::NEWDECIMAL => "decimal",
            mysql_type::DOUBLE => "double",
            mysql_type::ENUM => "enum",
            mysql_type::FLOAT => "float",
            mysql_type::GEOMETRY => "geometry",
            mysql_type::INT24 => "mediumint",
            mysql_type::JSON => "json",
            mysql_type::LONG => "int",
            mysql_type::LONGLONG => "bigint",
            mysql_type::NULL => "null",
            mysql_type::SET => "set",
            mysql_type::SHORT => "smallint",
            mysql_type::STRING if binary => "binary",
            mysql_type::STRING => "char",
            mysql_type::VARCHAR | mysql_type::VAR_STRING if binary => "varbinary",
            mysql_type::VARCHAR | mysql_type::VAR_STRING => "varchar",
            mysql_type::DURATION => "time",
            mysql_type::TIMESTAMP => "timestamp",
            mysql_type::TINY => "tinyint",
            mysql_type::YEAR => "year",
            _ => "unspecified",
        }
    }
}

impl TableSchema {
    /// `db.table`, as errors and logs name it.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }

    /// The column with ID `id`.
    pub fn column_by_id(&self, id: i64) -> Option<&Column> {
        self.columns.iter().find(|column| column.id == id)
    }
}
