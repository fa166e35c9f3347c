"""FlatWarp: the worn garment warped from the photo into the flat layout (joints, learned flow, mask and fill);
the shipped Extract model."""

from fashionstudio.families import Family

FAMILY = Family(
    name="flatwarp", tool="extract", label="Garment extraction, warping (FlatWarp)", paper="FlatWarp", default=True,
    build="fashionstudio.models.flatwarp:build", trainer="training.trainers.flatwarp:FlatWarpTrainer",
    evaluation="training.metrics.extract_eval:FLATWARP",
    data_kinds=("lookbook",), atelier_kind="lookbook",
    roles=(("person", "person"),),
)
