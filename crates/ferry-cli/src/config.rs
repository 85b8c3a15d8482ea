//! `ferry config list|get|set|unset [--folder DIR]`: the settings the desktop app uses
//! (`HOME/settings.json`), by their names there, in the forms people type; checked before
//! anything is written, and written atomically. The key table is the engine's
//! ([`ferry_engine::settings::keys`]); this is its front.

use anyhow::bail;
use ferry_engine::home::Home;
use ferry_engine::service::Service;
use ferry_engine::settings::{Settings, keys};

use crate::cli::{ConfigCommand, ConfigScope};

pub(crate) async fn run(
    service: &Service,
    command: &ConfigCommand,
    json: bool,
) -> anyhow::Result<()> {
    let home = service.home().clone();
    let mut settings = load(&home).await?;
    match command {
        ConfigCommand::List(scope) => {
            let folder = folder(service, scope).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&as_json(&settings, folder.as_deref())?)?
                );
            } else {
                for (key, value) in keys::list(&settings, folder.as_deref()) {
                    println!("{key} = {value}");
                }
            }
        }
        ConfigCommand::Get(args) => {
            let folder = folder(service, &args.scope).await?;
            let value = keys::get(&settings, folder.as_deref(), &args.key)?;
            if json {
                let all = as_json(&settings, folder.as_deref())?;
                println!("{}", all.get(&args.key).unwrap_or(&serde_json::Value::Null));
            } else {
                println!("{value}");
            }
        }
        ConfigCommand::Set(args) => {
            let folder = folder(service, &args.scope).await?;
            keys::set(&mut settings, folder.as_deref(), &args.key, &args.value)?;
            save(&home, settings.clone()).await?;
            if !json {
                let value = keys::get(&settings, folder.as_deref(), &args.key)?;
                println!("{} = {value}", args.key);
            }
        }
        ConfigCommand::Unset(args) => {
            let folder = folder(service, &args.scope).await?;
            keys::unset(&mut settings, folder.as_deref(), &args.key)?;
            save(&home, settings.clone()).await?;
            if !json {
                let value = keys::get(&settings, folder.as_deref(), &args.key)?;
                println!("{} = {value}", args.key);
            }
        }
    }
    Ok(())
}

/// The synced folder `--folder` names, as the settings key it by.
async fn folder(service: &Service, scope: &ConfigScope) -> anyhow::Result<Option<String>> {
    let Some(dir) = &scope.folder else {
        return Ok(None);
    };
    let path = std::path::absolute(dir)?;
    let synced = service.folders().await?;
    match synced
        .iter()
        .find(|f| std::path::Path::new(&f.path) == path)
    {
        Some(folder) => Ok(Some(folder.path.clone())),
        None => bail!(
            "{} is not a synced folder (see `ferry folder list`)",
            path.display()
        ),
    }
}

/// The settings (or a folder's own) as settings.json holds them.
fn as_json(settings: &Settings, folder: Option<&str>) -> anyhow::Result<serde_json::Value> {
    if let Some(path) = folder {
        let own = settings.folders.get(path).cloned().unwrap_or_default();
        return Ok(serde_json::json!({
            "schedule": own.schedule,
            "pauseOnMetered": own.pause_on_metered,
        }));
    }
    let mut all = serde_json::to_value(settings)?;
    if let Some(map) = all.as_object_mut() {
        map.remove("folders");
    }
    Ok(all)
}

pub(crate) async fn load(home: &Home) -> anyhow::Result<Settings> {
    let home = home.clone();
    Ok(tokio::task::spawn_blocking(move || Settings::load(&home)).await??)
}

async fn save(home: &Home, settings: Settings) -> anyhow::Result<()> {
    let home = home.clone();
    Ok(tokio::task::spawn_blocking(move || settings.save(&home)).await??)
}
