"""PoseWarp trainer (Deformable GANs' recipe with a feature loss from the offline atelier network).

One step, on a pair (source I_A with pose P_A, target I_B with pose P_B and body mask M_B):

- G: out = G(I_A, P_A, P_B) (the part-affine warp of I_A blended with a synthesis by a visibility mask).
- D (PatchGAN on (I_A, skeleton of P_B, image)): L_D = L_adv(D(c, I_B), real) + L_adv(D(c, out), fake). LSGAN.
- L_G = adv·L_adv(D(c, out), real) + l1·‖(out − I_B) ⊙ (1 + M_B)‖₁ + feature·Σ_k ‖φ_k(out) − φ_k(I_B)‖₁,
  φ_k the atelier network's trunk activations at 64, 32, 16 and 8 px (no downloaded weights exist here).
- D is updated first (on a detached result), then G.
"""

from __future__ import annotations

import torch

from training.trainers import losses
from training.trainers.samples import pose_image
from training.trainers.trainer import Trainer

class PoseWarpTrainer(Trainer):
    DEFAULT_LR = {"G": 2e-4, "D": 2e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "l1": 10.0, "feature": 10.0, "adv": 1.0}
    MONITOR = "l1"
    BEST_METRIC = "l1"
    PLATEAU_LOSS = {"G": "G", "D": "D"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        self.feature_loss = losses.AtelierFeatureLoss(self.device) if float(self.cfg.loss["feature"]) > 0 else None
        return {"G": self.adam("G", self.nets["G"].parameters()), "D": self.adam("D", self.nets["D"].parameters())}

    def train_step(self, batch):
        from fashionstudio.models.posewarp import pose_condition

        G, D = self.nets["G"], self.nets["D"]
        src, tgt, mask = batch["src"], batch["tgt"], batch["tgt_mask"]
        cond = pose_condition(src, batch["tgt_pose"])
        kind = self.adv_kind
        with self.autocast():
            out = G(src, batch["src_pose"], batch["tgt_pose"])
            l_d = losses.d_real(D(cond, tgt), kind) + losses.d_fake(D(cond, out.detach()), kind)
        values = self.check_finite({"D": l_d})
        self.update("D", l_d)

        self.set_requires_grad(["D"], False)
        with self.autocast():
            l_adv = losses.g_adv(D(cond, out), kind)
        self.set_requires_grad(["D"], True)
        l_l1 = losses.masked_l1(out, tgt, mask)
        l_feat = self.feature_loss(out, tgt) if self.feature_loss is not None else torch.zeros(())
        l_g = self.weight("adv") * l_adv + self.weight("l1") * l_l1 + self.weight("feature") * l_feat
        values.update(self.check_finite({"G_adv": l_adv, "l1": l_l1, "feature": l_feat, "G": l_g}))
        self.update("G", l_g)
        return values

    @torch.no_grad()
    def sample_rows(self, fixed):
        parts = self.inference_net("G").parts(fixed["src"], fixed["src_pose"], fixed["tgt_pose"])
        return [("source", fixed["src"]), ("target pose", pose_image(fixed["tgt_pose"])), ("target", fixed["tgt"]),
                ("warped source", parts["warped"]), ("visibility", parts["visibility"] * 2 - 1),
                ("result", parts["output"])]

    @torch.no_grad()
    def evaluate(self, fixed):
        parts = self.inference_net("G").parts(fixed["src"], fixed["src_pose"], fixed["tgt_pose"])
        return {"l1_warp": float((parts["warped"] - fixed["tgt"]).abs().mean()),
                "l1": float((parts["output"] - fixed["tgt"]).abs().mean())}
