# Golden outputs for tests/diversity (vegan). Run from this folder:
#   Rscript make_golden.R /work/shared/data/miseq-sop/reference-outputs/dada2-1.26-seqtab.tsv
# Writes every *.tsv in this folder except the inputs it reads.
suppressPackageStartupMessages(library(vegan))
args <- commandArgs(trailingOnly = TRUE)
seqtab_path <- args[1]
options(digits = 17)
wr <- function(x, f) write.table(x, f, sep = "\t", quote = FALSE, col.names = NA)
wr_df <- function(x, f) write.table(x, f, sep = "\t", quote = FALSE, row.names = FALSE)
fmt <- function(x) formatC(x, digits = 17, format = "g")

# ---- inputs -------------------------------------------------------------------------------
# (a) MiSeq SOP table: rows = ASV sequences, columns = samples -> vegan wants samples x features
st <- read.delim(seqtab_path, row.names = 1, check.names = FALSE)
miseq <- t(as.matrix(st))
time <- ifelse(as.integer(sub("F3D", "", rownames(miseq))) >= 141, "Late", "Early")
miseq_md <- data.frame(time = time, row.names = rownames(miseq))

# (b) hand-made table with singletons and doubletons (features x samples in the file)
hand <- matrix(c(
  # S1 S2 S3 S4 S5 S6
    1,  0,  5, 20,  1,  0,
    1,  2,  0,  1,  0,  3,
    2,  1,  1,  0,  2,  1,
    2,  0,  3,  1,  1,  0,
    3,  2,  0,  2,  0,  1,
    5,  1,  1,  0,  4,  2,
   10,  3,  0,  1,  2,  1,
   11,  0,  2,  0,  0, 15,
   40, 25,  7,  3, 60,  9,
    0,  1,  1,  2,  1,  1,
    0,  4,  0,  0, 12,  2,
  100, 50, 30, 10, 20, 80,
    1,  1,  2,  0,  0,  1,
    0,  0,  1,  1,  6,  0,
    7,  0,  0,  2,  1,  1), ncol = 6, byrow = TRUE,
  dimnames = list(sprintf("F%02d", 1:15), sprintf("S%d", 1:6)))
wr(hand, "hand-table.tsv")
handt <- t(hand)

# (c) simulated paired design: 12 subjects x 2 times, two groups, 40 features
set.seed(42)
nsub <- 12; nfeat <- 40
subject <- rep(sprintf("P%02d", 1:nsub), each = 2)
tp <- rep(c("baseline", "week12"), nsub)
grp <- rep(rep(c("patient", "control"), each = nsub / 2), each = 2)
base <- rgamma(nfeat, shape = 0.5, rate = 0.01)
subj_eff <- matrix(rgamma(nsub * nfeat, 2, 2), nsub)
paired <- t(sapply(seq_along(subject), function(i) {
  s <- as.integer(sub("P", "", subject[i]))
  mu <- base * subj_eff[s, ] * ifelse(tp[i] == "week12", c(rep(3, 5), rep(1, nfeat - 5)), 1) *
        ifelse(grp[i] == "patient", c(rep(1, 5), rep(2, 5), rep(1, nfeat - 10)), 1)
  rnbinom(nfeat, mu = mu, size = 2)
}))
rownames(paired) <- sprintf("%s_%s", subject, tp)
colnames(paired) <- sprintf("OTU%02d", 1:nfeat)
paired_md <- data.frame(subject = subject, time = tp, group = grp, row.names = rownames(paired))
wr(t(paired), "paired-table.tsv")
wr(paired_md, "paired-metadata.tsv")

# ---- alpha ---------------------------------------------------------------------------------
alpha <- function(x) {
  er <- t(estimateR(x))
  data.frame(observed_features = er[, "S.obs"], shannon = diversity(x, "shannon"),
             simpson = diversity(x, "simpson"), chao1 = er[, "S.chao1"], ace = er[, "S.ACE"],
             row.names = rownames(x))
}
for (nm in c("miseq", "hand", "paired")) {
  x <- switch(nm, miseq = miseq, hand = handt, paired = paired)
  a <- alpha(x)
  a[] <- lapply(a, fmt)
  wr(a, sprintf("%s-alpha.tsv", nm))
  wr(as.matrix(vegdist(x, "bray")), sprintf("%s-braycurtis.tsv", nm))
  wr(as.matrix(vegdist(x, "jaccard", binary = TRUE)), sprintf("%s-jaccard.tsv", nm))
  wr(as.matrix(vegdist(x, "aitchison", pseudocount = 1)), sprintf("%s-aitchison.tsv", nm))
  wr(as.matrix(vegdist(x, "robust.aitchison")), sprintf("%s-robust_aitchison.tsv", nm))
}

# ---- PERMANOVA, betadisper, anosim, Wilcoxon --------------------------------------------------
tidy_adonis <- function(a, label) {
  d <- as.data.frame(a)
  d <- d[!(rownames(d) %in% c("Residual", "Total")), , drop = FALSE]
  data.frame(test = label, term = rownames(d), df = d$Df, SumOfSqs = fmt(d$SumOfSqs),
             R2 = fmt(d$R2), pseudo_F = fmt(d$F), p_value = d[["Pr(>F)"]],
             permutations = nrow(attr(a, "F.perm")))
}
res <- list()
d_miseq <- vegdist(miseq, "bray")
set.seed(1)
res[[1]] <- tidy_adonis(adonis2(d_miseq ~ time, data = miseq_md, permutations = 999), "miseq-time")
d_paired <- vegdist(paired, "bray")
set.seed(2)
res[[2]] <- tidy_adonis(adonis2(d_paired ~ group + time, data = paired_md, permutations = 999,
                                by = "terms"), "paired-terms")
set.seed(3)
res[[3]] <- tidy_adonis(adonis2(d_paired ~ group + time, data = paired_md, permutations = 999,
                                by = "margin"), "paired-margin")
set.seed(4)
res[[4]] <- tidy_adonis(adonis2(d_paired ~ time, data = paired_md, permutations = 999,
                                strata = paired_md$subject), "paired-time-strata")
set.seed(5)
res[[5]] <- tidy_adonis(adonis2(d_paired ~ time + group, data = paired_md, permutations = 999,
                                by = "terms", strata = paired_md$subject), "paired-terms-strata")
wr_df(do.call(rbind, res), "permanova.tsv")

bd <- betadisper(d_miseq, miseq_md$time, type = "centroid")
set.seed(6)
pt <- permutest(bd, permutations = 999)
an <- anosim(d_miseq, miseq_md$time, permutations = 999)
bdp <- betadisper(d_paired, paired_md$group, type = "centroid")
set.seed(7)
ptp <- permutest(bdp, permutations = 999)
wr_df(data.frame(test = c("miseq-time", "paired-group"),
                 pseudo_F = fmt(c(pt$tab[1, "F"], ptp$tab[1, "F"])),
                 p_value = c(pt$tab[1, "Pr(>F)"], ptp$tab[1, "Pr(>F)"])), "permdisp.tsv")
wr(data.frame(distance = fmt(bd$distances)), "miseq-permdisp-distances.tsv")
set.seed(8)
anp <- anosim(d_paired, paired_md$group, permutations = 999)
wr_df(data.frame(test = c("miseq-time", "paired-group"), R = fmt(c(an$statistic, anp$statistic)),
                 p_value = c(an$signif, anp$signif)), "anosim.tsv")

wt <- function(x, y, label, paired = FALSE) {
  w <- wilcox.test(x, y, paired = paired, conf.int = TRUE, exact = NULL, correct = TRUE)
  data.frame(test = label, statistic = fmt(w$statistic), p_value = fmt(w$p.value),
             estimate = fmt(w$estimate), ci_low = fmt(w$conf.int[1]), ci_high = fmt(w$conf.int[2]))
}
sh <- diversity(miseq, "shannon"); ob <- specnumber(miseq)
shp <- diversity(paired, "shannon")
b <- paired_md$time == "baseline"; w12 <- paired_md$time == "week12"
wil <- rbind(
  wt(sh[time == "Late"], sh[time == "Early"], "miseq-shannon-late-vs-early"),
  suppressWarnings(wt(ob[time == "Late"], ob[time == "Early"], "miseq-observed-late-vs-early")),
  wt(shp[w12], shp[b], "paired-shannon-week12-vs-baseline", paired = TRUE),
  wt(shp[w12 & paired_md$group == "patient"], shp[w12 & paired_md$group == "control"],
     "paired-shannon-week12-patient-vs-control"),
  # ties / zero differences: normal approximation with continuity correction
  suppressWarnings(wt(c(1, 2, 2, 3, 5, 5, 7, 8), c(2, 3, 3, 4, 6, 9, 9, 10, 11), "ties-two-sample")),
  suppressWarnings(wt(c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), c(0, 2, 1, 2, 4, 3, 9, 5, 6, 4),
                      "ties-paired", paired = TRUE)))
wr_df(wil, "wilcoxon.tsv")
kw <- kruskal.test(ob, factor(c("a", "b", "c")[(seq_along(ob) %% 3) + 1]))
wr_df(data.frame(test = "miseq-observed-3groups", statistic = fmt(kw$statistic),
                 p_value = fmt(kw$p.value)), "kruskal.tsv")

writeLines(c(R.version.string, paste("vegan", packageVersion("vegan")),
             paste("permute", packageVersion("permute"))), "versions.txt")
