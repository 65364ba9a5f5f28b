//! Named `f32` host tensors and their safetensors files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::{Error, Result, io_err};

/// One host tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Tensors by name plus string metadata (the safetensors `__metadata__`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorFile {
    pub tensors: BTreeMap<String, HostTensor>,
    pub metadata: BTreeMap<String, String>,
}

impl TensorFile {
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors.insert(name.into(), HostTensor { shape, data });
    }

    pub fn get(&self, name: &str) -> Result<&HostTensor> {
        self.tensors.get(name).ok_or_else(|| Error::SafeTensors(format!("tensor {name} missing")))
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone()))
            .collect();
        let mut views = Vec::with_capacity(bytes.len());
        for (n, b, s) in &bytes {
            let v = TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| Error::SafeTensors(format!("{n}: {e}")))?;
            views.push((n.clone(), v));
        }
        let meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        let out = safetensors::serialize(views, Some(meta)).map_err(|e| Error::SafeTensors(e.to_string()))?;
        crate::write_atomic(path, &out)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let buf = std::fs::read(path).map_err(io_err(path))?;
        let fail = |e: safetensors::SafeTensorError| Error::SafeTensors(format!("{}: {e}", path.display()));
        let (_, meta) = SafeTensors::read_metadata(&buf).map_err(fail)?;
        let st = SafeTensors::deserialize(&buf).map_err(fail)?;
        let mut out = TensorFile::default();
        if let Some(m) = meta.metadata() {
            out.metadata = m.clone().into_iter().collect();
        }
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(Error::SafeTensors(format!("{name}: only F32 tensors are read, found {:?}", view.dtype())));
            }
            let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            out.insert(name, view.shape().to_vec(), data);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_tensors_and_metadata() {
        let mut f = TensorFile::default();
        f.insert("a.weight", vec![2, 3], vec![1.0, -2.0, 3.5, 0.0, f32::MIN_POSITIVE, 6.0]);
        f.insert("b", vec![1], vec![7.0]);
        f.metadata.insert("step".into(), "12".into());
        let p = std::env::temp_dir().join(format!("sbd-tio-{}.safetensors", std::process::id()));
        f.save(&p).unwrap();
        assert_eq!(TensorFile::load(&p).unwrap(), f);
        std::fs::remove_file(&p).ok();
    }
}
