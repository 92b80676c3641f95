# Goldens for tests/study/test_design_goldens.py (run in this folder: Rscript make_goldens.R)
suppressMessages({library(lmerTest); library(vegan); library(permute)})
out <- function(df, f) write.table(df, f, sep = "\t", quote = FALSE, row.names = FALSE)

# 1. value ~ treatment * week + (1 | subject), REML, lmerTest (Satterthwaite df)
a <- read.delim("interaction-alpha.tsv", colClasses = c(week = "character"))
a$treatment <- factor(a$treatment, levels = c("control", "il2"))
a$week <- factor(a$week, levels = c("0", "4"))
m <- lmer(value ~ treatment * week + (1 | subject), data = a, REML = TRUE)
co <- summary(m)$coefficients
out(data.frame(term = rownames(co), estimate = sprintf("%.12g", co[, 1]),
               se = sprintf("%.12g", co[, 2]), df = sprintf("%.8g", co[, 3]),
               p = sprintf("%.8g", co[, 5])), "lmer-interaction.tsv")

# 2. value ~ week + (1 | subject) with three time points (factor), and the linear trend
l <- read.delim("longitudinal-alpha.tsv", colClasses = c(week = "character"))
l$week <- factor(l$week, levels = c("0", "4", "12"))
m2 <- lmer(value ~ week + (1 | subject), data = l, REML = TRUE)
co2 <- summary(m2)$coefficients
l$rank <- as.numeric(l$week) - 1
m3 <- lmer(value ~ rank + (1 | subject), data = l, REML = TRUE)
co3 <- summary(m3)$coefficients
co2 <- rbind(co2, co3["rank", , drop = FALSE])
out(data.frame(term = rownames(co2), estimate = sprintf("%.12g", co2[, 1]),
               se = sprintf("%.12g", co2[, 2]), df = sprintf("%.8g", co2[, 3]),
               p = sprintf("%.8g", co2[, 5])), "lmer-longitudinal.tsv")

# 3. adonis2 with the interaction term; whole subjects permuted, time within subject
d <- as.matrix(read.delim("interaction-braycurtis.tsv", row.names = 1, check.names = FALSE))
md <- read.delim("interaction-metadata.tsv", colClasses = c(week = "character"))
md <- md[match(rownames(d), md$sample.id), ]
md$subject <- factor(md$subject, levels = unique(md$subject))
set.seed(1)
h <- how(within = Within(type = "free"), plots = Plots(strata = md$subject, type = "free"),
         nperm = 9999)
r <- adonis2(as.dist(d) ~ treatment * week, data = md, permutations = h, by = "terms")
out(data.frame(term = rownames(r), df = r$Df, SumOfSqs = sprintf("%.15g", r$SumOfSqs),
               R2 = sprintf("%.15g", r$R2), F = sprintf("%.15g", r$F), p = r$`Pr(>F)`,
               permutations = 9999), "adonis2-interaction.tsv")
cat(R.version.string, "\n")
cat("lme4", format(packageVersion("lme4")), "lmerTest", format(packageVersion("lmerTest")),
    "vegan", format(packageVersion("vegan")), "permute", format(packageVersion("permute")), "\n")

# 4. with cages: value ~ treatment * week + (1 | cage / subject)
mc <- lmer(value ~ treatment * week + (1 | cage / subject), data = a, REML = TRUE)
cc <- summary(mc)$coefficients
out(data.frame(term = rownames(cc), estimate = sprintf("%.12g", cc[, 1]),
               se = sprintf("%.12g", cc[, 2]), df = sprintf("%.8g", cc[, 3]),
               p = sprintf("%.8g", cc[, 5])), "lmer-interaction-cage.tsv")

# 5. strong cage effects: value ~ treatment * week + (1 | cage / subject)
ac <- read.delim("interaction-alpha-cage.tsv", colClasses = c(week = "character"))
ac$treatment <- factor(ac$treatment, levels = c("control", "il2"))
ac$week <- factor(ac$week, levels = c("0", "4"))
m5 <- lmer(value ~ treatment * week + (1 | cage / subject), data = ac, REML = TRUE)
c5 <- summary(m5)$coefficients
out(data.frame(term = rownames(c5), estimate = sprintf("%.12g", c5[, 1]),
               se = sprintf("%.12g", c5[, 2]), df = sprintf("%.8g", c5[, 3]),
               p = sprintf("%.8g", c5[, 5])), "lmer-interaction-cage2.tsv")
vc <- as.data.frame(VarCorr(m5))
out(data.frame(group = vc$grp, variance = sprintf("%.12g", vc$vcov)), "lmer-interaction-cage2-variances.tsv")
