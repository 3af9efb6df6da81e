//! A classifier's labels, computed as onnxruntime computes them where tract 0.23 cannot.
//!
//! - **Text labels.** tract refuses a `TreeEnsembleClassifier` or `LinearClassifier` whose
//!   `classlabels_strings` are set ("String doesn't implement num_traits::Zero"), although
//!   scikit-learn models trained on text classes export that way. [`ClassLabels::prepare`]
//!   gives tract the class numbers instead and keeps the texts, and the plugin maps each
//!   number back.
//! - **Binary tree ensembles.** skl2onnx writes a binary random forest as a
//!   `TreeEnsembleClassifier` whose votes all go to class id 0 and whose score is the second
//!   class's. tract turns the score into the probabilities `[1 - s, s]` correctly, but takes its
//!   label from an arg-max over the single score column: always the first class. onnxruntime
//!   answers the second class when the score is above 0.5 (every class weight positive) or 0
//!   (otherwise); the plugin does the same from the probability.

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto::Value;
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};

/// The class labels of a classifier node, in the graph's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// `classlabels_int64s` (`classlabels_ints` for a `LinearClassifier`): tract's label
    /// output holds them.
    Int(Vec<i64>),
    /// `classlabels_strings`: tract's label output holds their numbers.
    Text(Vec<String>),
}

/// How the plugin answers the labels of the classifier that computes the graph's first output.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassLabels {
    /// The classes.
    pub labels: Labels,
    /// For a binary tree ensemble: the second class's probability above which a row is
    /// labelled with the second class.
    pub binary_threshold: Option<f64>,
}

impl ClassLabels {
    /// Finds the classifier node whose output is the graph's first output (through `Identity`
    /// nodes) and prepares the graph for tract: text labels become class numbers, in the node
    /// and in the types declared along the way. `Ok(None)` when the first output comes from
    /// anything else; an error names a node whose labels cannot be answered faithfully.
    pub fn prepare(proto: &mut ModelProto) -> Result<Option<Self>, String> {
        let Some(graph) = proto.graph.as_mut() else {
            return Ok(None);
        };
        let Some(first) = graph.output.first().map(|o| o.name.clone()) else {
            return Ok(None);
        };
        let mut names = vec![first];
        let index = loop {
            let name = names.last().map(String::as_str).unwrap_or_default();
            let Some(i) = graph
                .node
                .iter()
                .position(|n| n.output.iter().any(|o| o == name))
            else {
                return Ok(None);
            };
            match (graph.node[i].op_type.as_str(), graph.node[i].input.first()) {
                ("Identity", Some(input)) => names.push(input.clone()),
                _ => break i,
            }
        };
        let node = &mut graph.node[index];
        if !matches!(
            node.op_type.as_str(),
            "TreeEnsembleClassifier" | "LinearClassifier"
        ) {
            return Ok(None);
        }
        let binary_threshold = binary_threshold(node)?;
        // The ONNX operators name their numeric labels differently.
        let ints = if node.op_type == "LinearClassifier" {
            "classlabels_ints"
        } else {
            "classlabels_int64s"
        };
        let labels = if let Some(a) = attribute(node, ints) {
            Labels::Int(a.ints.clone())
        } else if let Some(a) = attribute(node, "classlabels_strings") {
            let texts: Vec<String> = a
                .strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            let numbers = (0..texts.len() as i64).collect();
            node.attribute.retain(|a| a.name != "classlabels_strings");
            node.attribute.push(AttributeProto {
                name: ints.into(),
                r#type: AttributeType::Ints as i32,
                ints: numbers,
                ..Default::default()
            });
            for info in graph.output.iter_mut().chain(graph.value_info.iter_mut()) {
                if names.contains(&info.name)
                    && let Some(Value::TensorType(t)) =
                        info.r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    t.elem_type = DataType::Int64 as i32;
                }
            }
            Labels::Text(texts)
        } else {
            return Ok(None);
        };
        let count = match &labels {
            Labels::Int(l) => l.len(),
            Labels::Text(l) => l.len(),
        };
        Ok(Some(Self {
            labels,
            binary_threshold: binary_threshold.filter(|_| count == 2),
        }))
    }
}

/// For a `TreeEnsembleClassifier` in the binary layout (every vote for class id 0): the
/// second class's probability above which onnxruntime answers the second class.
fn binary_threshold(node: &NodeProto) -> Result<Option<f64>, String> {
    if node.op_type != "TreeEnsembleClassifier" {
        return Ok(None);
    }
    let class_ids = attribute(node, "class_ids").map(|a| a.ints.as_slice());
    if !class_ids.is_some_and(|ids| !ids.is_empty() && ids.iter().all(|&id| id == 0)) {
        return Ok(None);
    }
    let positive = match attribute(node, "class_weights") {
        Some(a) if !a.floats.is_empty() => a.floats.iter().all(|&w| w >= 0.0),
        _ => match attribute(node, "class_weights_as_tensor").and_then(|a| a.t.as_ref()) {
            Some(t) => doubles(t).iter().all(|&w| w >= 0.0),
            None => true,
        },
    };
    let score: f64 = if positive { 0.5 } else { 0.0 };
    let post = attribute(node, "post_transform")
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_else(|| "NONE".to_string());
    match post.as_str() {
        "NONE" => Ok(Some(score)),
        "LOGISTIC" => Ok(Some(1.0 / (1.0 + (-score).exp()))),
        other => Err(format!(
            "node {:?}: a binary TreeEnsembleClassifier with post_transform {other} has labels \
             tract cannot compute as onnxruntime does",
            node.name
        )),
    }
}

fn attribute<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// A double tensor's values, from `double_data` or little-endian `raw_data`.
fn doubles(t: &TensorProto) -> Vec<f64> {
    if !t.double_data.is_empty() {
        return t.double_data.clone();
    }
    t.raw_data
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(f64::from_le_bytes))
        .collect()
}
