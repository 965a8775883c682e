//! `rifle-tui check`: everything `train` would refuse, found without training.
use super::ProfileArgs;
use crate::data::image_folder;
use crate::model;
use crate::profile::DataSource;
use tch::Device;

pub fn run(args: &ProfileArgs) -> Result<i32, String> {
    let loaded = args.load()?;
    let p = &loaded.profile;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let mut problems = Vec::new();
    let classes = match p.data.source {
        DataSource::Synthetic => {
            let classes = p.data.classes.unwrap_or(4);
            eprintln!(
                "data: synthetic, {classes} classes, {} train and {} val images a class, {}px",
                p.data.train_per_class.unwrap_or(64),
                p.data.val_per_class.unwrap_or(16),
                p.data.image_size
            );
            Some(classes as i64)
        }
        DataSource::ImageFolder => {
            let root = p.data.root.clone().unwrap_or_default();
            match image_folder::scan(&root) {
                Ok(scan) => {
                    eprintln!(
                        "data: {}: {} classes, {} train and {} val images",
                        root.display(),
                        scan.classes.len(),
                        scan.train.len(),
                        scan.val.len()
                    );
                    for w in &scan.warnings {
                        eprintln!("warning: {w}");
                    }
                    Some(scan.classes.len() as i64)
                }
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            }
        }
    };
    if let Err(e) = crate::train::device::resolve(&p.train.device) {
        problems.push(e);
    }
    if let Some(weights) = &p.model.weights {
        // Built on the CPU with the real class count, so shape errors show up here.
        let net = model::build(p.model.arch, classes.unwrap_or(2), 0.0, Device::Cpu);
        match model::load_weights(&net, weights) {
            Ok(report) => report
                .messages()
                .iter()
                .for_each(|m| eprintln!("weights: {m}")),
            Err(e) => problems.push(e.to_string()),
        }
    }
    print!("{}", p.to_yaml());
    if problems.is_empty() {
        eprintln!("{}: valid", args.profile.display());
        Ok(0)
    } else {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        Ok(1)
    }
}
