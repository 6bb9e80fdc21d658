//! Columns added to a table one statement each (SQLite alters one column at a time), skipping
//! those a database made from `database/create_database.sql` has already; and dropped again.
use sea_orm_migration::prelude::*;

/// Adds each `(name, definition)` column that `table` lacks.
pub async fn add_missing<T>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: Vec<(&str, ColumnDef)>,
) -> Result<(), DbErr>
where
    T: Iden + Clone + 'static,
{
    let table_name = table.to_string();
    for (name, mut definition) in columns {
        if !manager.has_column(&table_name, name).await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(&mut definition)
                        .to_owned(),
                )
                .await?;
        }
    }
    Ok(())
}

/// Drops each `(column, name)` that `table` has.
pub async fn drop_present<T, C>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: Vec<(C, &str)>,
) -> Result<(), DbErr>
where
    T: Iden + Clone + 'static,
    C: Iden + 'static,
{
    let table_name = table.to_string();
    for (column, name) in columns {
        if manager.has_column(&table_name, name).await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
    }
    Ok(())
}
