#ifndef CONTROLLER_RESOURCES_H
#define CONTROLLER_RESOURCES_H

#include <jansson.h>
#include <stdint.h>

/*
 * Compute resources of step containers as Tekton v1.15.0 sets them (tekton-taskrun.md §11):
 * TaskRun-level spec.computeResources shared out among the steps, and the namespace's
 * LimitRanges turned into step requests. Kubernetes quantities are read and written here.
 * Pure: no I/O.
 */

/* How a quantity is written, as Kubernetes' resource.Format: it survives arithmetic. */
enum resources_format {
    RESOURCES_DECIMAL_SI,       /* 500m, 2, 1k, 1G */
    RESOURCES_BINARY_SI,        /* 512Mi, 1Gi */
    RESOURCES_DECIMAL_EXPONENT, /* 1e3 */
};

/*
 * Parse a quantity ("100m", "0.5", "1Gi", "2e3") into thousandths of a unit, rounded up as
 * Kubernetes' MilliValue() does. Returns 0, -EINVAL for text that is not a quantity, or
 * -ERANGE for one beyond 9.2e15 units.
 */
int resources_quantity_parse(const char *text, int64_t *ret_milli,
                             enum resources_format *ret_format);

/*
 * Write 'milli' thousandths in 'format' the way Kubernetes writes canonical quantities
 * ("500m", "2", "1k", "512Mi", "1500"). Returns a new string.
 */
char *resources_quantity_format(int64_t milli, enum resources_format format);

/*
 * Apply the TaskRun's spec.computeResources to the step containers (§11.1 step 3): when it
 * has requests or limits, every step gets its limits unchanged and its requests divided by
 * the number of steps (memory and ephemeral-storage in whole bytes, everything else in
 * thousandths, rounded down); a step without requests under a TaskRun without requests gets
 * the limits divided instead. 'steps' is an array of containers whose "resources" member is
 * replaced; 'compute' is borrowed. Unparsable quantities are left out of the division.
 */
void resources_apply_taskrun(json_t *steps, const json_t *compute);

/*
 * Apply the namespace's LimitRanges (an array of LimitRange objects, borrowed) to the Pod's
 * step containers (names starting with "step-"), as Tekton's LimitRange transformer does:
 * the ranges are combined into one, and for cpu, memory and ephemeral-storage each step's
 * missing or zero request becomes max(Container defaultRequest / number of steps, Container
 * min). Limits, init containers and sidecars are left to the API server's LimitRanger.
 */
void resources_apply_limitranges(json_t *pod, const json_t *limitranges);

/*
 * The LimitRanges of namespace 'ns' among 'limitranges' (an array of LimitRange objects, say
 * an informer's whole cache, in any order), sorted by name as the API lists them: folding
 * several depends on their order (resources_apply_limitranges). Returns a new array, possibly
 * empty, holding references to the borrowed objects.
 */
json_t *resources_limitranges_in(const json_t *limitranges, const char *ns);

#endif
