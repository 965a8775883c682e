//! `train.precision: bf16` and `train.channels_last`, on the CPU as on a GPU.
//!
//! **bf16 autocast.** `tch::autocast` only switches CUDA autocast (libtorch's deprecated
//! device-less `at::autocast::set_enabled`), and in fp16. libtorch exports the
//! device-typed functions (`at::autocast::set_autocast_enabled(DeviceType, bool)`, and the
//! dtype's getter and setter) from libtorch_cpu, which torch-sys links; they are plain
//! functions of an `int8_t` enum and a `bool`, so they are called here by their Itanium
//! C++ names (Linux, macOS) with the C calling convention, which is theirs on those
//! platforms. Inside [`autocast_bf16`] convolutions and matrix products run in bf16 while
//! the parameters (the optimiser's master weights) stay fp32; libtorch caches each
//! weight's bf16 copy for the region and the cache is cleared when the outermost region
//! ends, as `torch.autocast` does.
//!
//! **Channels-last.** tch 0.26 has no memory-format arguments, but a channels-last
//! tensor is just an NCHW tensor with NHWC strides, which a permute, a `contiguous` and
//! the inverse permute produce; libtorch picks its channels-last kernels from the
//! strides. safetensors needs row-major data: see [`contiguous_named`].
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// `c10::DeviceType` (an `enum class : int8_t`).
const CPU: i8 = 0;
const CUDA: i8 = 1;
/// `c10::ScalarType::BFloat16`.
const BF16: i8 = 15;

#[cfg(not(target_env = "msvc"))]
mod ffi {
    // at/autocast_mode.h; c10::DeviceType and c10::ScalarType are `enum class : int8_t`.
    // None of them throws for the CPU and CUDA device types.
    extern "C" {
        #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
        pub fn is_autocast_enabled(device_type: i8) -> bool;
        #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
        pub fn set_autocast_enabled(device_type: i8, enabled: bool);
        #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
        pub fn get_autocast_dtype(device_type: i8) -> i8;
        #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
        pub fn set_autocast_dtype(device_type: i8, dtype: i8);
    }
}

/// Whether [`autocast_bf16`] really casts on `device` (false only for the CPU on Windows,
/// where the names above are not libtorch's).
pub fn bf16_supported(device: Device) -> bool {
    device.is_cuda() || cfg!(not(target_env = "msvc"))
}

/// Restores the autocast state of a device type when a region ends, panics included.
#[cfg(not(target_env = "msvc"))]
struct Region {
    device_type: i8,
    enabled: bool,
    dtype: i8,
}

#[cfg(not(target_env = "msvc"))]
impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: see `ffi`; the nesting counter is the device-independent one tch uses.
        unsafe {
            if torch_sys::at_autocast_decrement_nesting() == 0 {
                torch_sys::at_autocast_clear_cache();
            }
            ffi::set_autocast_enabled(self.device_type, self.enabled);
            ffi::set_autocast_dtype(self.device_type, self.dtype);
        }
    }
}

/// Runs `f` with bf16 autocast on `device`'s type (CPU or CUDA).
#[cfg(not(target_env = "msvc"))]
pub fn autocast_bf16<T>(device: Device, f: impl FnOnce() -> T) -> T {
    let device_type = if device.is_cuda() { CUDA } else { CPU };
    // SAFETY: see `ffi`.
    let _region = unsafe {
        let region = Region {
            device_type,
            enabled: ffi::is_autocast_enabled(device_type),
            dtype: ffi::get_autocast_dtype(device_type),
        };
        ffi::set_autocast_dtype(device_type, BF16);
        ffi::set_autocast_enabled(device_type, true);
        torch_sys::at_autocast_increment_nesting();
        region
    };
    f()
}

/// Windows: CUDA through tch (fp16), the CPU not at all (see [`bf16_supported`]).
#[cfg(target_env = "msvc")]
pub fn autocast_bf16<T>(device: Device, f: impl FnOnce() -> T) -> T {
    let _ = (CPU, CUDA, BF16);
    if device.is_cuda() {
        tch::autocast(true, f)
    } else {
        f()
    }
}

/// `t` with channels-last (NHWC) strides when it is 4-D; other tensors as they are.
pub fn to_channels_last(t: &Tensor) -> Tensor {
    if t.dim() == 4 {
        t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
    } else {
        t.shallow_clone()
    }
}

/// Whether a 4-D tensor's strides are channels-last ones.
pub fn is_channels_last(t: &Tensor) -> bool {
    let (size, stride) = (t.size(), t.stride());
    size.len() == 4 && {
        let (c, h, w) = (size[1].max(1), size[2].max(1), size[3].max(1));
        stride[1] == 1 && stride[3] == c && stride[2] == w * c && stride[0] == h * w * c
    }
}

/// Moves every 4-D variable of `vs` (the convolutions' weights) to channels-last, in
/// place: the convolutions, the optimiser and the layer monitor hold the same variables.
pub fn channels_last_(vs: &VarStore) {
    tch::no_grad(|| {
        for (_, mut var) in vs.variables() {
            if var.dim() == 4 && !is_channels_last(&var) {
                let data = to_channels_last(&var.detach());
                var.set_data(&data);
            }
        }
    });
}

/// Row-major copies of channels-last tensors (others as they are), since safetensors
/// stores data in that order.
pub fn contiguous_named(tensors: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    tensors
        .iter()
        .map(|(name, t)| (name.clone(), t.contiguous()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[cfg(not(target_env = "msvc"))]
    #[test]
    fn the_enum_values_are_libtorchs() {
        // SAFETY: see `ffi`. libtorch's CPU autocast defaults to bf16, CUDA's to fp16 (5).
        unsafe {
            assert_eq!(ffi::get_autocast_dtype(CPU), BF16);
            assert_eq!(ffi::get_autocast_dtype(CUDA), 5);
            assert!(!ffi::is_autocast_enabled(CPU));
        }
    }

    #[test]
    fn bf16_autocast_runs_convolutions_in_bf16_on_the_cpu_and_ends() {
        let x = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let conv = |x: &Tensor| x.conv2d::<Tensor>(&w, None, [1, 1], [1, 1], [1, 1], 1);
        let (inside, nested) = autocast_bf16(Device::Cpu, || {
            let y = conv(&x);
            // A nested region leaves the outer one on when it ends.
            autocast_bf16(Device::Cpu, || ());
            (y, conv(&x).kind())
        });
        assert_eq!(inside.kind(), Kind::BFloat16);
        assert_eq!(nested, Kind::BFloat16);
        assert_eq!(
            conv(&x).kind(),
            Kind::Float,
            "autocast still on after the region"
        );
        assert_eq!(w.kind(), Kind::Float);
        // Gradients reach the fp32 weight through the bf16 cast.
        inside.to_kind(Kind::Float).sum(Kind::Float).backward();
        assert_eq!(w.grad().kind(), Kind::Float);
        let fp32 = conv(&x);
        let diff = (inside.to_kind(Kind::Float) - &fp32)
            .abs()
            .max()
            .double_value(&[]);
        let scale = fp32.abs().max().double_value(&[]);
        assert!(diff > 0.0 && diff < 0.05 * scale, "{diff} vs {scale}");
        // Out of the region, fp32 weights are read afresh (the cast cache was cleared).
        let _ = tch::no_grad(|| w.shallow_clone().g_mul_scalar_(2.0));
        let y = autocast_bf16(Device::Cpu, || conv(&x)).to_kind(Kind::Float);
        let rel = (&y - &fp32 * 2.0).abs().max().double_value(&[]) / (2.0 * scale);
        assert!(rel < 0.05, "stale bf16 weights: {rel}");
    }

    #[test]
    fn channels_last_keeps_values_and_variables() {
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().randn("w", &[5, 3, 2, 4], 0.0, 1.0);
        let b = vs.root().randn("b", &[5], 0.0, 1.0);
        let before = w.copy();
        assert!(w.is_contiguous() && !is_channels_last(&w));
        channels_last_(&vs);
        // The handle taken before the move sees the moved data: it is the same variable.
        assert!(is_channels_last(&w) && !w.is_contiguous());
        assert!(w.requires_grad());
        assert_eq!(w, before);
        assert_eq!(b.stride(), vec![1]);
        let x = to_channels_last(&Tensor::randn([2, 3, 6, 6], (Kind::Float, Device::Cpu)));
        assert!(is_channels_last(&x));
        let named = contiguous_named(&vs.variables().into_iter().collect::<Vec<_>>());
        assert!(named.iter().all(|(_, t)| t.is_contiguous()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        Tensor::write_safetensors(&named, &path).unwrap();
        let read: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(read["w"], before);
    }
}
