"""PoseWarp: part-affine warp of the source photo with deformable skips; the shipped Pose model."""

from fashionstudio.families import Family, inshop_pose_options

FAMILY = Family(
    name="posewarp", tool="pose", label="Pose change, warping (PoseWarp)", paper="PoseWarp", default=True,
    build="fashionstudio.models.posewarp:build", trainer="training.trainers.posewarp:PoseWarpTrainer",
    evaluation="training.metrics.pose_eval:POSEWARP",
    data_kinds=("inshop",), atelier_kind="inshop", reader_options=inshop_pose_options,
    roles=(("person", "src"),),
)
