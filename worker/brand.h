/*
 * brand.h — what the firm's pages show of its identity besides the raw
 * settings: the monogram drawn from the firm's name, and the plan's label in
 * the page's language. Pure.
 */
#ifndef TENANT_WORKER_BRAND_H
#define TENANT_WORKER_BRAND_H

#include <stddef.h>

/*
 * The monogram of a firm's name: the initials of its first two significant
 * words, upper case ("Cabinet Dupont & Martin" → "DM", "SCP Lefèvre" → "L",
 * "Maître Élise Roux" → "ÉR"). Words skipped: legal forms and titles
 * (Cabinet, SCP, SELARL, SELAS, SELAFA, SELEURL, AARPI, SARL, SAS, Maître, Me,
 * Avocat(s), Associé(s)), articles and links (de, du, des, la, le, les, et,
 * d', l', &). A name of skipped words only gives its first letter. out holds
 * at least 9 bytes (two UTF-8 characters); "" for an empty name.
 */
void brand_monogram(const char *name, char *out, size_t n);

/*
 * The plan's label as shown in lang: the shipped English labels (Starter,
 * Professional, Enterprise) in French for "fr" ("Essentielle",
 * "Professionnelle", "Entreprise"); any other label as it is.
 */
const char *brand_plan_label(const char *label, const char *lang);

#endif
