//! What the store's SQL asks of a sqlx driver, stated once.
//!
//! Generic code over `DB: sqlx::Database` needs bounds such as `i64: Encode<'q, DB>` or
//! `for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>`. Rust does not carry a trait's
//! `where` clauses to the trait's users, so a helper trait with those clauses would have to be
//! repeated on every generic item; it does carry supertraits. [`Sql`] is therefore the set of a
//! driver's capabilities as supertraits of the driver type itself — binding each type of value
//! the store writes ([`Bind`]), reading back each type it reads ([`Read`]), running statements
//! on a pool or a connection ([`Run`]) — each blanket-implemented for every driver that has it.
//! Two things only a concrete driver can do have an `impl` per driver: turning a query builder
//! into a statement ([`Build`]) and counting the rows a statement changed ([`Affected`]). `Sql`
//! itself is one empty `impl` per driver, where the compiler checks that it has them all.
//!
//! The SQL itself is written with sqlx's own types; [`QueryExt::arg`], [`BuilderExt::arg`],
//! [`SeparatedExt::arg`] and [`RowExt::col`] stand in for `bind`, `push_bind` and `try_get`,
//! which cannot be called on a generic driver.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde_json::value::RawValue;
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::types::Json;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row,
    Transaction, Type,
};

use crate::model::{Finding, Inventory};

/// A statement with its arguments.
pub(crate) type Stmt<'q, DB> = Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// Driver `Self` can bind a `T` (a thin `Query::bind` / `QueryBuilder::push_bind`).
pub(crate) trait Bind<'q, T>: Database {
    /// `q.bind(v)`.
    fn bind(q: Stmt<'q, Self>, v: T) -> Stmt<'q, Self>;
    /// `b.push_bind(v)`.
    fn push(b: &mut QueryBuilder<'q, Self>, v: T);
    /// `s.push_bind(v)`.
    fn push_separated<S: Display>(s: &mut Separated<'_, 'q, Self, S>, v: T);
}

impl<'q, DB: Database, T: 'q + Encode<'q, DB> + Type<DB>> Bind<'q, T> for DB {
    fn bind(q: Stmt<'q, Self>, v: T) -> Stmt<'q, Self> {
        q.bind(v)
    }
    fn push(b: &mut QueryBuilder<'q, Self>, v: T) {
        b.push_bind(v);
    }
    fn push_separated<S: Display>(s: &mut Separated<'_, 'q, Self, S>, v: T) {
        s.push_bind(v);
    }
}

/// Driver `Self` can read a `T` from a column named by a string.
pub(crate) trait Read<T>: Database {
    /// `r.try_get(col)`.
    fn get(r: &Self::Row, col: &str) -> Result<T, sqlx::Error>;
}

impl<DB: Database, T> Read<T> for DB
where
    T: for<'r> Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    fn get(r: &Self::Row, col: &str) -> Result<T, sqlx::Error> {
        r.try_get(col)
    }
}

/// Driver `Self` runs statements on its pools and connections.
pub(crate) trait Run: Database {
    /// A pool as an executor.
    fn pool(p: &Pool<Self>) -> impl Executor<'_, Database = Self>;
    /// A connection (a transaction's) as an executor.
    fn conn(c: &mut Self::Connection) -> impl Executor<'_, Database = Self>;
}

impl<DB: Database> Run for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn pool(p: &Pool<Self>) -> impl Executor<'_, Database = Self> {
        p
    }
    fn conn(c: &mut Self::Connection) -> impl Executor<'_, Database = Self> {
        c
    }
}

/// Rows a statement changed (each driver has `rows_affected`, sqlx no trait for it).
pub(crate) trait Affected {
    /// `rows_affected()`.
    fn affected(&self) -> u64;
}

impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// Driver `Self` turns a query builder into a statement. `QueryBuilder::build` returns a
/// statement whose arguments live as long as the builder's (`'args`), which only the concrete
/// drivers can shorten to the borrow of the builder (their arguments are covariant); generic
/// code cannot, so each driver does it here.
pub(crate) trait Build: Database {
    /// `qb.build()`, its arguments' lifetime shortened to the borrow of `qb`.
    fn build<'a, 'args: 'a>(qb: &'a mut QueryBuilder<'args, Self>) -> Stmt<'a, Self>;
}

impl Build for sqlx::Sqlite {
    fn build<'a, 'args: 'a>(qb: &'a mut QueryBuilder<'args, Self>) -> Stmt<'a, Self> {
        qb.build()
    }
}

impl Build for sqlx::Postgres {
    fn build<'a, 'args: 'a>(qb: &'a mut QueryBuilder<'args, Self>) -> Stmt<'a, Self> {
        qb.build()
    }
}

/// Everything the store's SQL needs of a driver. Its supertraits are blanket-implemented; the
/// compiler checks at the two `impl`s below that SQLite and PostgreSQL have them all.
pub(crate) trait Sql:
    for<'q> Database<Arguments<'q>: IntoArguments<'q, Self>, QueryResult: Affected>
    + Run
    + Build
    + for<'q> Bind<'q, i64>
    + for<'q> Bind<'q, Option<i64>>
    + for<'q> Bind<'q, bool>
    + for<'q> Bind<'q, String>
    + for<'q> Bind<'q, Option<String>>
    + for<'q> Bind<'q, &'q str>
    + for<'q> Bind<'q, Option<&'q str>>
    + for<'q> Bind<'q, Vec<u8>>
    + for<'q> Bind<'q, &'q [u8]>
    + for<'q> Bind<'q, Json<&'q RawValue>>
    + for<'q> Bind<'q, Json<&'q BTreeMap<String, String>>>
    + for<'q> Bind<'q, Json<Option<Finding>>>
    + Read<i64>
    + Read<Option<i64>>
    + Read<bool>
    + Read<Option<bool>>
    + Read<String>
    + Read<Option<String>>
    + Read<Vec<u8>>
    + Read<Option<Vec<u8>>>
    + Read<Json<BTreeMap<String, String>>>
    + Read<Json<Inventory>>
    + Read<Json<Option<Finding>>>
    + Read<Json<serde_json::Value>>
{
}

impl Sql for sqlx::Sqlite {}
impl Sql for sqlx::Postgres {}

/// A transaction as an executor.
pub(crate) fn tx<'c, DB: Sql>(t: &'c mut Transaction<'_, DB>) -> impl Executor<'c, Database = DB> {
    DB::conn(t)
}

/// `arg` for statements.
pub(crate) trait QueryExt<'q, DB: Database>: Sized {
    /// Bind the next argument.
    fn arg<T>(self, v: T) -> Self
    where
        DB: Bind<'q, T>;
}

impl<'q, DB: Database> QueryExt<'q, DB> for Stmt<'q, DB> {
    fn arg<T>(self, v: T) -> Self
    where
        DB: Bind<'q, T>,
    {
        DB::bind(self, v)
    }
}

/// `arg` and `statement` for query builders.
pub(crate) trait BuilderExt<'q, DB: Database> {
    /// Push a bound argument.
    fn arg<T>(&mut self, v: T) -> &mut Self
    where
        DB: Bind<'q, T>;
    /// The statement built (see [`Build`]).
    fn statement(&mut self) -> Stmt<'_, DB>
    where
        DB: Build;
}

impl<'q, DB: Database> BuilderExt<'q, DB> for QueryBuilder<'q, DB> {
    fn arg<T>(&mut self, v: T) -> &mut Self
    where
        DB: Bind<'q, T>,
    {
        DB::push(self, v);
        self
    }
    fn statement(&mut self) -> Stmt<'_, DB>
    where
        DB: Build,
    {
        DB::build(self)
    }
}

/// `arg` for the separated lists of a query builder.
pub(crate) trait SeparatedExt<'q, DB: Database> {
    /// Push the separator (after the first), then a bound argument.
    fn arg<T>(&mut self, v: T) -> &mut Self
    where
        DB: Bind<'q, T>;
}

impl<'q, DB: Database, S: Display> SeparatedExt<'q, DB> for Separated<'_, 'q, DB, S> {
    fn arg<T>(&mut self, v: T) -> &mut Self
    where
        DB: Bind<'q, T>,
    {
        DB::push_separated(self, v);
        self
    }
}

/// `col` for rows.
pub(crate) trait RowExt: Row {
    /// The value of column `name`.
    fn col<T>(&self, name: &str) -> Result<T, sqlx::Error>
    where
        Self::Database: Read<T>;
}

impl<R: Row> RowExt for R {
    fn col<T>(&self, name: &str) -> Result<T, sqlx::Error>
    where
        Self::Database: Read<T>,
    {
        <R::Database as Read<T>>::get(self, name)
    }
}
