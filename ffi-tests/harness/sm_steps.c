/* The SMP steps of sm.h on OtrlSMState structs in plain memory: a full run
   with equal secrets (both SUCCEEDED), with different ones (both FAILED),
   tampered and truncated messages (CHEATED), re-initialisation in the middle
   of a run, and the exported but undeclared message-array helpers
   otrl_sm_msgN_init / otrl_sm_msg_free. Only return codes, progress states,
   slot NULL-ness and message MPI counts are printed: the numbers are random. */
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/sm.h>

#include "common.h"

/* Exported by libotr 4.1.1, not declared in its headers. */
void otrl_sm_msg1_init(gcry_mpi_t **msg1);
void otrl_sm_msg2_init(gcry_mpi_t **msg2);
void otrl_sm_msg3_init(gcry_mpi_t **msg3);
void otrl_sm_msg4_init(gcry_mpi_t **msg4);
void otrl_sm_msg_free(gcry_mpi_t **message, int msglen);

static void slots(const char *who, const OtrlSMState *s)
{
    const gcry_mpi_t v[] = { s->secret, s->x2, s->x3, s->g1, s->g2, s->g3,
                             s->g3o, s->p, s->q, s->pab, s->qab };
    char pat[12];
    size_t i;
    for (i = 0; i < 11; i++) pat[i] = v[i] ? 'm' : '-';
    pat[11] = '\0';
    SAY("%s slots %s next=%d rq=%d prog=%d", who, pat, (int)s->nextExpected,
        s->received_question, (int)s->sm_prog_state);
}

/* The MPI count at the start of an SMP message, or -1. */
static long mpis(const unsigned char *m, int len)
{
    if (!m || len < 4) return -1;
    return ((long)m[0] << 24) | ((long)m[1] << 16) | ((long)m[2] << 8) | m[3];
}

static void step_out(const char *name, gcry_error_t e, const OtrlSMState *s,
                     const unsigned char *out, int len)
{
    SAY("%s rc=%#x prog=%d out=%s mpis=%ld", name, (unsigned)e,
        (int)s->sm_prog_state, out ? "set" : "null", out ? mpis(out, len) : -2L);
}

/* Flips one bit in the middle of a message: it lands in some number and
   breaks a proof or a range. */
static void tamper(unsigned char *m, int len)
{
    m[len / 2] ^= 0x10;
}

/* tamper_at: 0 none, 1 SMP1, 2 SMP2, 3 SMP3, 4 SMP4, 5 truncate SMP1. */
static void run(const char *label, const char *sa, const char *sb, int tamper_at, int question)
{
    OtrlSMState *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    unsigned char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    int l1 = 0, l2 = 0, l3 = 0, l4 = 0;
    gcry_error_t e;

    SAY("== %s", label);
    memset(a, 0x5a, sizeof *a);
    memset(b, 0xa5, sizeof *b);
    otrl_sm_state_new(a);
    otrl_sm_state_new(b);
    slots("new", a);
    otrl_sm_state_init(a);
    otrl_sm_state_init(b);
    slots("init", a);

    e = otrl_sm_step1(a, (const unsigned char *)sa, (int)strlen(sa), &m1, &l1);
    step_out("step1", e, a, m1, l1);
    slots("alice", a);
    if (tamper_at == 1) tamper(m1, l1);
    if (tamper_at == 5) l1 -= 3;
    e = otrl_sm_step2a(b, m1, l1, question);
    SAY("step2a rc=%#x prog=%d rq=%d", (unsigned)e, (int)b->sm_prog_state, b->received_question);
    if (e) goto done;
    slots("bob", b);
    e = otrl_sm_step2b(b, (const unsigned char *)sb, (int)strlen(sb), &m2, &l2);
    step_out("step2b", e, b, m2, l2);
    if (e) goto done;
    slots("bob", b);
    if (tamper_at == 2) tamper(m2, l2);
    e = otrl_sm_step3(a, m2, l2, &m3, &l3);
    step_out("step3", e, a, m3, l3);
    if (e) goto done;
    slots("alice", a);
    if (tamper_at == 3) tamper(m3, l3);
    e = otrl_sm_step4(b, m3, l3, &m4, &l4);
    step_out("step4", e, b, m4, l4);
    if (!m4) goto done;
    slots("bob", b);
    if (tamper_at == 4) tamper(m4, l4);
    e = otrl_sm_step5(a, m4, l4);
    SAY("step5 rc=%#x prog=%d", (unsigned)e, (int)a->sm_prog_state);
    slots("alice", a);
done:
    free(m1); free(m2); free(m3); free(m4);
    otrl_sm_state_free(a);
    otrl_sm_state_free(b);
    slots("freed", a);
    free(a);
    free(b);
}

/* A run interrupted by otrl_sm_state_init on both sides, then restarted. */
static void reinit(void)
{
    OtrlSMState a, b;
    unsigned char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    int l1, l2, l3, l4;
    gcry_error_t e;

    SAY("== reinit");
    otrl_sm_state_new(&a);
    otrl_sm_state_new(&b);
    otrl_sm_state_init(&a);
    otrl_sm_state_init(&b);
    e = otrl_sm_step1(&a, (const unsigned char *)"one", 3, &m1, &l1);
    CHECK(e == 0);
    e = otrl_sm_step2a(&b, m1, l1, 1);
    CHECK(e == 0);
    free(m1);
    otrl_sm_state_init(&a);
    otrl_sm_state_init(&b);
    slots("reinit", &b);
    e = otrl_sm_step1(&a, (const unsigned char *)"two", 3, &m1, &l1);
    e |= otrl_sm_step2a(&b, m1, l1, 0);
    e |= otrl_sm_step2b(&b, (const unsigned char *)"two", 3, &m2, &l2);
    e |= otrl_sm_step3(&a, m2, l2, &m3, &l3);
    e |= otrl_sm_step4(&b, m3, l3, &m4, &l4);
    e |= otrl_sm_step5(&a, m4, l4);
    SAY("rerun rc=%#x alice=%d bob=%d", (unsigned)e, (int)a.sm_prog_state, (int)b.sm_prog_state);
    /* A second step5 with the same message concludes the same way. */
    e = otrl_sm_step5(&a, m4, l4);
    SAY("step5 again rc=%#x prog=%d", (unsigned)e, (int)a.sm_prog_state);
    free(m1); free(m2); free(m3); free(m4);
    otrl_sm_state_free(&a);
    otrl_sm_state_free(&b);
}

static void msgs(void)
{
    static void (*const init[4])(gcry_mpi_t **) = {
        otrl_sm_msg1_init, otrl_sm_msg2_init, otrl_sm_msg3_init, otrl_sm_msg4_init };
    static const int len[4] = { 6, 11, 8, 3 };
    int i, j;

    SAY("== msg arrays");
    for (i = 0; i < 4; i++) {
        gcry_mpi_t *m = NULL;
        char pat[12];
        init[i](&m);
        CHECK(m != NULL);
        for (j = 0; j < len[i]; j++) pat[j] = m[j] ? 'm' : '-';
        pat[len[i]] = '\0';
        otrl_sm_msg_free(&m, len[i]);
        SAY("msg%d %s freed=%s", i + 1, pat, m ? "no" : "null");
    }
}

int main(void)
{
    OTRL_INIT;
    run("equal secrets", "the same secret", "the same secret", 0, 0);
    run("equal secrets, question", "4242", "4242", 0, 1);
    run("different secrets", "alice's secret", "bob's secret", 0, 0);
    run("tampered smp1", "s", "s", 1, 0);
    run("truncated smp1", "s", "s", 5, 0);
    run("tampered smp2", "s", "s", 2, 0);
    run("tampered smp3", "s", "s", 3, 0);
    run("tampered smp4", "s", "s", 4, 0);
    reinit();
    msgs();
    return harness_exit();
}
