"""PixelDTGAN trainer (the thesis's Table 10, with the fixed L1 weight and unassociated negatives decided here).

G turns a photo of a dressed person into the garment's flat catalogue image. Two discriminators with separate
optimisers:

- D_R (real/fake) sees the garment image alone: real flats → real, G's flats → fake.
- D_A (association) sees (person, garment): the person's own flat → real; G's flat → fake; and a real flat of a
  *different* product ("real but unassociated") → fake, so D_A must judge the pairing, not the realism. The two
  negative terms are averaged, so positives and negatives weigh the same.
- G: L_adv(D_R(Ĝ)) + L_adv(D_A(person, Ĝ)) + λ·‖Ĝ − flat‖₁ with a **fixed** λ ([loss] l1, default 4, the thesis's
  starting value): the thesis's trainable λ was driven negative by G's own optimiser.
"""

from __future__ import annotations

import torch

from training.trainers import losses
from training.trainers.trainer import Trainer


class PixelDTGANTrainer(Trainer):
    DEFAULT_LR = {"G": 1e-4, "D_R": 1e-4, "D_A": 1e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "l1": 4.0, "adv_r": 1.0, "adv_a": 1.0}
    MONITOR = "l1"
    BEST_METRIC = "l1"
    PLATEAU_LOSS = {"G": "G", "D_R": "D_R", "D_A": "D_A"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        return {name: self.adam(name, self.nets[name].parameters()) for name in ("G", "D_R", "D_A")}

    def train_step(self, batch):
        G, D_R, D_A = self.nets["G"], self.nets["D_R"], self.nets["D_A"]
        person, flat, other = batch["person"], batch["flat"], batch["flat_other"]
        kind = self.adv_kind
        with self.autocast():
            fake = G(person)
            l1 = (fake.float() - flat.float()).abs().mean()
            l_dr, l_da = losses.domain_transfer_d_losses(D_R, D_A, person, flat, fake, other, kind)
        values = self.check_finite({"D_R": l_dr, "D_A": l_da, "l1": l1})
        self.update("D_R", l_dr)
        self.update("D_A", l_da)

        self.set_requires_grad(["D_R", "D_A"], False)
        with self.autocast():
            adv_r, adv_a = losses.domain_transfer_g_adv(D_R, D_A, person, fake, kind)
        self.set_requires_grad(["D_R", "D_A"], True)
        l_g = self.weight("adv_r") * adv_r + self.weight("adv_a") * adv_a + self.weight("l1") * l1
        values.update(self.check_finite({"G_adv_r": adv_r, "G_adv_a": adv_a, "G": l_g}))
        self.update("G", l_g)
        return values

    @torch.no_grad()
    def sample_rows(self, fixed):
        return [("person", fixed["person"]), ("flat (target)", fixed["flat"]),
                ("extracted", self.inference_net("G")(fixed["person"]))]

    @torch.no_grad()
    def evaluate(self, fixed):
        return {"l1": float((self.inference_net("G")(fixed["person"]) - fixed["flat"]).abs().mean())}
