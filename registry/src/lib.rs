//! Storage for plugins, models, experiments and artifacts: a content-addressed blob store and
//! a database layer (SQLite by default, PostgreSQL for more than one machine). The registry
//! milestone fills this crate; the foundation only lays it out.
