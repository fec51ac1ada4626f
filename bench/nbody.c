/* nbody.c: the Jovian planets orbiting the sun, integrated for N steps of
 * 0.01 days. Prints the energy before and after.
 * Usage: nbody [N]   (N defaults to 1 000 000) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PI 3.141592653589793
#define SOLAR_MASS (4.0 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

typedef struct {
    double x, y, z, vx, vy, vz, mass;
} Body;

static Body body(double x, double y, double z, double vx, double vy, double vz, double mass)
{
    return (Body){ x, y, z, vx * DAYS_PER_YEAR, vy * DAYS_PER_YEAR, vz * DAYS_PER_YEAR,
                   mass * SOLAR_MASS };
}

static void make_system(Body *b)
{
    b[0] = body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0);
    b[1] = body(4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
                1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
                9.54791938424326609e-04);
    b[2] = body(8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
                -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
                2.85885980666130812e-04);
    b[3] = body(1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
                2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
                4.36624404335156298e-05);
    b[4] = body(1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
                2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
                5.15138902046611451e-05);
}

/* Gives the sun the momentum that makes the system's total zero. */
static void offset_momentum(Body *b)
{
    double px = 0.0, py = 0.0, pz = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        px += b[i].vx * b[i].mass;
        py += b[i].vy * b[i].mass;
        pz += b[i].vz * b[i].mass;
    }
    b[0].vx = -px / SOLAR_MASS;
    b[0].vy = -py / SOLAR_MASS;
    b[0].vz = -pz / SOLAR_MASS;
}

static double energy(const Body *b)
{
    double e = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        const Body *bi = &b[i];
        e += 0.5 * bi->mass * (bi->vx * bi->vx + bi->vy * bi->vy + bi->vz * bi->vz);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = bi->x - b[j].x, dy = bi->y - b[j].y, dz = bi->z - b[j].z;
            e -= bi->mass * b[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(Body *b, double dt)
{
    for (int i = 0; i < NBODIES; i++) {
        Body *bi = &b[i];
        double bivx = bi->vx, bivy = bi->vy, bivz = bi->vz;
        for (int j = i + 1; j < NBODIES; j++) {
            Body *bj = &b[j];
            double dx = bi->x - bj->x, dy = bi->y - bj->y, dz = bi->z - bj->z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * sqrt(d2));
            double bjm = bj->mass * mag;
            bivx -= dx * bjm;
            bivy -= dy * bjm;
            bivz -= dz * bjm;
            double bimag = bi->mass * mag;
            bj->vx += dx * bimag;
            bj->vy += dy * bimag;
            bj->vz += dz * bimag;
        }
        bi->vx = bivx;
        bi->vy = bivy;
        bi->vz = bivz;
        bi->x += dt * bivx;
        bi->y += dt * bivy;
        bi->z += dt * bivz;
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    Body bodies[NBODIES];
    make_system(bodies);
    offset_momentum(bodies);
    printf("%.9f\n", energy(bodies));
    for (long step = 0; step < n; step++)
        advance(bodies, 0.01);
    printf("%.9f\n", energy(bodies));
    return 0;
}
