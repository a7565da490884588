"""follow-up questions: up to three per survey after the score, their choices (retired, never deleted) and answers

Revision ID: 0029_follow_ups
Revises: 0028_score_sums
Create Date: 2026-12-01 05:50:30.681390

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029_follow_ups'
down_revision = '0028_score_sums'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('follow_up_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('label_de', sa.String(length=300), nullable=False),
    sa.Column('label_en', sa.String(length=300), nullable=False),
    sa.Column('show_to', sa.JSON(), nullable=True),
    sa.Column('other_option', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_follow_up_questions_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_questions'))
    )
    with op.batch_alter_table('follow_up_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_questions_survey_id'), ['survey_id'], unique=False)

    op.create_table('follow_up_choices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label_de', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['question_id'], ['follow_up_questions.id'], name=op.f('fk_follow_up_choices_question_id_follow_up_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_choices'))
    )
    with op.batch_alter_table('follow_up_choices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_choices_question_id'), ['question_id'], unique=False)

    op.create_table('follow_up_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('choice_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['choice_id'], ['follow_up_choices.id'], name=op.f('fk_follow_up_answers_choice_id_follow_up_choices')),
    sa.ForeignKeyConstraint(['question_id'], ['follow_up_questions.id'], name=op.f('fk_follow_up_answers_question_id_follow_up_questions')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_follow_up_answers_response_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_answers'))
    )
    with op.batch_alter_table('follow_up_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_answers_choice_id'), ['choice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_answers_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_answers_response_id'), ['response_id'], unique=False)



def downgrade():
    with op.batch_alter_table('follow_up_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_answers_response_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_answers_question_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_answers_choice_id'))

    op.drop_table('follow_up_answers')
    with op.batch_alter_table('follow_up_choices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_choices_question_id'))

    op.drop_table('follow_up_choices')
    with op.batch_alter_table('follow_up_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_questions_survey_id'))

    op.drop_table('follow_up_questions')
