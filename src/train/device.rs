//! Turning the profile's `device` into a tch device.
use tch::{Cuda, Device};

/// `auto` picks the first GPU when libtorch sees one, the CPU otherwise.
pub fn resolve(spec: &str) -> Result<Device, String> {
    match spec {
        "auto" => Ok(if Cuda::is_available() {
            Device::Cuda(0)
        } else {
            Device::Cpu
        }),
        "cpu" => Ok(Device::Cpu),
        other => {
            let Some(index) = other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return Err(format!(
                    "train.device: `{other}` is not a device (allowed: auto, cpu, cuda:N)"
                ));
            };
            let count = Cuda::device_count() as usize;
            if index >= count {
                return Err(format!(
                    "train.device: `{other}` asked for, but libtorch sees {count} CUDA device(s) \
                     (use `auto` to fall back on the CPU)"
                ));
            }
            Ok(Device::Cuda(index))
        }
    }
}

pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!(resolve("cpu"), Ok(Device::Cpu));
        assert!(resolve("gpu")
            .unwrap_err()
            .contains("allowed: auto, cpu, cuda:N"));
        if !Cuda::is_available() {
            assert_eq!(resolve("auto"), Ok(Device::Cpu));
            assert!(resolve("cuda:0").unwrap_err().contains("0 CUDA device"));
        }
    }
}
