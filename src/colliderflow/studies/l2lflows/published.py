"""The published CaloChallenge classifier AUCs (arXiv:2410.21611), carried
with the code so that every tier's AUC figure shows them as context.

Copied from the challenge's result tables (CaloChallenge/homepage @
9b41df72a03aeecb48bfbaa946f9792f255e0ba7, final_results/CaloChallenge_results_<dataset>.hdf,
columns "submission name", "binary cls low", "binary cls high", "time CPU 100"),
rounded to five decimals (CPU ms per shower to four); ``reference_tables`` reads
the same columns from those files when ``reference_results`` names them.
"""

from __future__ import annotations

#: {dataset: ((submission, AUC low-level, AUC high-level, CPU ms per shower or None), ...)}
AUCS: dict[str, tuple[tuple[str, float, float, float | None], ...]] = {
    "ds1_photons": (
        ("GEANT4", 0.49916, 0.49945, None),
        ("CaloDiffusion", 0.63459, 0.53636, 4266.3503),
        ("CaloINN", 0.62592, 0.63765, 2.7764),
        ("Calo-VQ", 0.99844, 0.98873, 10.4366),
        ("CaloScore", 0.75149, 0.55212, 9424.8464),
        ("CaloScore distilled", 0.81574, 0.64092, 1078.0936),
        ("CaloScore single-shot", 0.86558, 0.72599, 20.5023),
        ("CaloFlow teacher", 0.73298, 0.63586, 2052.8148),
        ("CaloFlow student", 0.76064, 0.66658, 11.139),
        ("CaloMan", 0.9997, 0.99878, 3.1962),
        ("BoloGAN", 0.92653, 0.96616, 1.728),
        ("CaloShower2GAN", 0.93831, 0.94245, 65.6226),
        ("CaloShower3GAN", 0.92813, 0.94655, 55.5418),
        ("CaloVAE+INN", 0.88877, 0.96595, 1.5755),
        ("CaloForest", 0.84491, 0.92354, 308.0751),
        ("CaloGraph", 0.82038, 0.67215, 914.4286),
    ),
    "ds1_pions": (
        ("GEANT4", 0.60894, 0.55786, None),
        ("CaloDiffusion", 0.68043, 0.65243, 4571.0772),
        ("CaloINN", 0.78408, 0.73211, 3.9164),
        ("Calo-VQ", 0.95784, 0.9761, 12.7003),
        ("CaloFlow teacher", 0.84471, 0.79655, 5430.4411),
        ("CaloFlow student", 0.88379, 0.82687, 14.2408),
        ("CaloMan", 0.99861, 0.99905, 12.1401),
        ("BoloGAN", 0.91257, 0.96891, 1.3807),
        ("DNN CaloSim", 0.67645, 0.81867, 0.4653),
        ("CaloShowerGAN", 0.88889, 0.92166, 70.6989),
        ("CaloVAE+INN", 0.85283, 0.92147, 1.7199),
        ("CaloForest", 0.90876, 0.965, 432.8031),
        ("CaloGraph", 0.81122, 0.76335, 1262.8368),
    ),
    "ds2": (
        ("GEANT4", 0.49961, 0.49927, None),
        ("CaloDiffusion", 0.5766, 0.59096, 23316.9688),
        ("conv. L2LFlows", 0.7083, 0.73707, 121.2021),
        ("CaloINN", 0.74257, 0.86504, 59.7065),
        ("MDMA", 0.94155, 0.98673, 19.8662),
        ("Calo-VQ", 0.98579, 0.99414, 26.1339),
        ("CaloScore", 0.59461, 0.66568, 147693.5692),
        ("CaloScore distilled", 0.70979, 0.89063, 17988.568),
        ("CaloScore single-shot", 0.7465, 0.90205, 279.995),
        ("iCaloFlow teacher", 0.76255, 0.83696, 11614.3821),
        ("iCaloFlow student", 0.81865, 0.88554, 135.1681),
        ("SuperCalo", 0.69365, 0.75654, 7987.6025),
        ("DeepTree", 0.96283, 0.92704, 38.2632),
        ("CaloPointFlow", 0.8634, 0.90836, 161.0924),
        ("CaloVAE+INN", 0.907, 0.99992, 4.5995),
        ("CaloLatent", 0.98271, 0.99458, 541.3035),
        ("CaloDiT", 0.98382, 0.91197, 33354.8172),
        ("CaloDREAM", 0.53082, 0.52079, 5051.7613),
    ),
    "ds3": (
        ("GEANT4", 0.4975, 0.50011, None),
        ("CaloDiffusion", 0.56128, 0.60679, 269229.9742),
        ("L2LFlows MAF", 0.72032, 0.94642, 141316.6501),
        ("conv. L2LFlows", 0.58758, 0.73307, 340.1682),
        ("MDMA", 0.94386, 0.98659, 193.73),
        ("CaloClouds", 0.86479, 0.97986, 3924.4736),
        ("Calo-VQ", 0.99602, 0.99797, 68.0587),
        ("CaloScore distilled", 0.77554, 0.9237, 96868.8516),
        ("CaloScore single-shot", 0.80666, 0.93929, 1539.23),
        ("iCaloFlow teacher", 0.91103, 0.96192, 438641.9682),
        ("iCaloFlow student", 0.8909, 0.97055, 454.6798),
        ("GEANT4 transformer", 0.88648, 0.99999, 179.4635),
        ("CaloPointFlow", 0.72001, 0.94507, 308.4666),
        ("CaloVAE+INN", 0.88125, 0.99996, 13.6198),
        ("Calo-VQ(norm)", 0.97528, 0.9942, 3634.8817),
        ("CaloDREAM", 0.62997, 0.52408, 32138.0282),
    ),
}


def tables() -> dict:
    """The carried tables in ``reference_tables``' layout: {dataset: [{name, auc_low, auc_high, cpu_ms_per_shower}]}."""
    return {ds: [{"name": n, "auc_low": lo, "auc_high": hi, "cpu_ms_per_shower": float("nan") if cpu is None else cpu}
                 for n, lo, hi, cpu in rows] for ds, rows in AUCS.items()}
