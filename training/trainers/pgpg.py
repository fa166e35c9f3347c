"""PGPG / PoseGAN trainer (the thesis's Table 7).

One step, on a pair (source I_A, target I_B, target pose P_B, body mask M_B):

- G1: coarse = G1(I_A, P_B); L_G1 = ‖(coarse − I_B) ⊙ (1 + M_B)‖₁.
- G2: refined = coarse + G2(I_A, coarse) (G2 detaches coarse, so L_G2 never reaches G1);
  L_G2 = L_adv(D(I_A, refined), real) + λ_recon·‖(refined − I_B) ⊙ (1 + M_B)‖₁, with λ_recon a step schedule
  (the thesis raised it 1 → 5 → 10 by hand).
- D (PatchGAN on (I_A, image)): L_D = L_adv(D(I_A, I_B), real) + L_adv(D(I_A, refined), fake). LSGAN by default.
- One Adam for G1 + G2 on L_G1 + L_G2, one for D. D is updated first (on a detached refined image), then G.
"""

from __future__ import annotations

import torch

from training.trainers import losses
from training.trainers.samples import pose_image
from training.trainers.trainer import Trainer


class PGPGTrainer(Trainer):
    DEFAULT_LR = {"G": 1e-4, "D": 1e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "g1_l1": 1.0, "adv": 1.0}
    DEFAULT_SCHEDULES = {"lambda_recon": [[0, 1.0]]}
    MONITOR = "G2_l1"
    BEST_METRIC = "l1_refined"
    PLATEAU_LOSS = {"G": "G", "D": "D"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        g_params = list(self.nets["G1"].parameters()) + list(self.nets["G2"].parameters())
        return {"G": self.adam("G", g_params), "D": self.adam("D", self.nets["D"].parameters())}

    def train_step(self, batch):
        G1, G2, D = self.nets["G1"], self.nets["G2"], self.nets["D"]
        src, tgt, pose, mask = batch["src"], batch["tgt"], batch["tgt_pose"], batch["tgt_mask"]
        kind = self.adv_kind
        with self.autocast():
            coarse = G1(src, pose)
            refined = G2(src, coarse)
            l_g1 = losses.masked_l1(coarse, tgt, mask)
            l_recon = losses.masked_l1(refined, tgt, mask)
            l_d = losses.d_real(D(src, tgt), kind) + losses.d_fake(D(src, refined.detach()), kind)
        values = self.check_finite({"D": l_d, "G1_l1": l_g1, "G2_l1": l_recon})
        self.update("D", l_d)

        self.set_requires_grad(["D"], False)
        with self.autocast():
            l_adv = losses.g_adv(D(src, refined), kind)
        self.set_requires_grad(["D"], True)
        lam = self.weight("lambda_recon")
        l_g2 = self.weight("adv") * l_adv + lam * l_recon
        l_g = self.weight("g1_l1") * l_g1 + l_g2
        values.update(self.check_finite({"G2_adv": l_adv, "G": l_g}))
        self.update("G", l_g)
        return values

    def _run(self, fixed):
        coarse = self.inference_net("G1")(fixed["src"], fixed["tgt_pose"])
        return coarse, self.inference_net("G2")(fixed["src"], coarse)

    @torch.no_grad()
    def sample_rows(self, fixed):
        coarse, refined = self._run(fixed)
        return [("source", fixed["src"]), ("target pose", pose_image(fixed["tgt_pose"])),
                ("target", fixed["tgt"]), ("coarse (G1)", coarse), ("refined (G2)", refined)]

    @torch.no_grad()
    def evaluate(self, fixed):
        coarse, refined = self._run(fixed)
        return {"l1_coarse": float((coarse - fixed["tgt"]).abs().mean()),
                "l1_refined": float((refined - fixed["tgt"]).abs().mean())}
