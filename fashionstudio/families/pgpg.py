"""PGPG (Ma et al. 2017): two-stage pose-guided person generation, the thesis's Pose family."""

from fashionstudio.families import Family, inshop_pose_options

FAMILY = Family(
    name="pgpg", tool="pose", label="Pose change (PGPG)", paper="PGPG",
    build="fashionstudio.models.pgpg:build", trainer="training.trainers.pgpg:PGPGTrainer",
    evaluation="training.metrics.pose_eval:PGPG",
    data_kinds=("inshop",), atelier_kind="inshop", reader_options=inshop_pose_options,
    roles=(("person", "src"),),
)
