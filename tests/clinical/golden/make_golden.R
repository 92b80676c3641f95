# Golden outputs for tests/clinical: R's wilcox.test (paired, Hodges-Lehmann CI),
# binom.test (Clopper-Pearson) and quantile(type = 7).
# Run from this folder:  Rscript make_golden.R
options(digits = 17)
d <- read.delim("wilcoxon-input.tsv", stringsAsFactors = FALSE)
out <- NULL
for (case in unique(d$case)) {
  s <- d[d$case == case, ]
  n_nonzero <- sum(s$x - s$y != 0)
  ex <- n_nonzero <= 25   # microtrial's rule; R then still falls back to the normal
                          # approximation when there are ties or zeros
  w <- suppressWarnings(wilcox.test(s$x, s$y, paired = TRUE, exact = ex, conf.int = TRUE))
  out <- rbind(out, data.frame(
    case = case, exact_requested = ex, statistic_v = unname(w$statistic),
    p_value = w$p.value, method = w$method, estimate = unname(w$estimate),
    ci_low = w$conf.int[1], ci_high = w$conf.int[2],
    conf_level = attr(w$conf.int, "conf.level")))
}
write.table(out, "wilcoxon-r.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

# Clopper-Pearson intervals
cp <- NULL
for (xn in list(c(12, 13), c(0, 13), c(13, 13), c(5, 18), c(1, 2), c(14, 18))) {
  b <- binom.test(xn[1], xn[2])
  cp <- rbind(cp, data.frame(k = xn[1], n = xn[2], ci_low = b$conf.int[1], ci_high = b$conf.int[2]))
}
write.table(cp, "clopper-pearson-r.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

# quantile type 7 of each case's x
qs <- NULL
for (case in unique(d$case)) {
  q <- quantile(d$x[d$case == case], c(0.25, 0.5, 0.75), type = 7)
  qs <- rbind(qs, data.frame(case = case, q1 = q[[1]], median = q[[2]], q3 = q[[3]]))
}
write.table(qs, "quantile7-r.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
writeLines(R.version.string, "R-version.txt")
